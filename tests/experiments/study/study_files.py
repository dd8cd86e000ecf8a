"""A tiny stand-in for the released model the study continues: a
transformers BERT directory as sentence-transformers ships all-MiniLM-L6-v2
(`BertModel`'s names, a pooler, tokenizer.json and no vocab.txt), at the
tiny scale's shape, its special tokens where BERT-base's vocabulary has
them after [PAD] (not at 1-4, so a test sees that ids come from it)."""

import string

from official_tokendrop.data.vocabulary import CLS, MASK, PAD, SEP, UNK
from official_tokendrop.interop.transformers import HIDDEN_ACT
from transformers_files import write_bert_model_directory

# Single characters and their continuations: WordPiece splits any word of
# the corpus into them, so the converter masks real tokens, not [UNK]s.
CHARACTERS = string.ascii_lowercase + string.digits + string.punctuation
TOKENS = ([PAD] + [f"[unused{i}]" for i in range(3)] + [UNK, CLS, SEP, MASK] + list(CHARACTERS)
          + [f"##{c}" for c in CHARACTERS])
SPECIAL_IDS = {"allow": [4, 5, 6, 7], "deny": [0]}  # [UNK] [CLS] [SEP] [MASK] / [PAD] in TOKENS


def tiny_release(directory, scale, **config):
    """The stand-in's directory at `scale`'s shape (`config` replaces keys
    of its config.json, e.g. `hidden_act`); returns its path."""
    write_bert_model_directory(directory, {
        "vocab_size": len(TOKENS), "hidden_size": scale.hidden, "num_hidden_layers": scale.layers,
        "num_attention_heads": scale.heads, "intermediate_size": scale.inner,
        "max_position_embeddings": scale.positions, "type_vocab_size": 2,
        "hidden_act": HIDDEN_ACT[scale.hidden_activation], **config}, TOKENS)
    return str(directory)
