"""Files as Hugging Face libraries write them, made here with NumPy and
safetensors alone: a `tokenizer.json` of BERT's WordPiece, and a BERT
directory as sentence-transformers ships MiniLM (`BertModel`'s names
without the `bert.` prefix, a pooler, `tokenizer.json` and no vocab.txt)."""

import json

import numpy as np

from official_tokendrop.data.vocabulary import SPECIAL_TOKENS

BERT_NORMALIZER = {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                   "strip_accents": None, "lowercase": True}


def write_tokenizer_json(path, tokens, normalizer=BERT_NORMALIZER, **overrides):
    """A transformers tokenizer.json as `tokenizers` saves BERT's: the
    WordPiece vocab dict (written in reverse id order, so order must come
    from the ids), the special tokens also as added tokens. `overrides`
    replace keys of the model (`type`, `vocab`, ...) or of the file."""
    spec = {
        "version": "1.0",
        "added_tokens": [{"id": tokens.index(t), "content": t, "special": True} for t in SPECIAL_TOKENS],
        "normalizer": normalizer,
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100,
                  "vocab": {t: i for i, t in reversed(list(enumerate(tokens)))}},
    }
    for key, value in overrides.items():
        (spec["model"] if key in spec["model"] else spec)[key] = value
    path.write_text(json.dumps(spec))
    return str(path)


def bert_model_tensors(config, seed):
    """Random `BertModel` weights of `config` (transformers' names, torch
    layouts: Linear weights [out, in]; layer-norm scales near 1), with the
    `position_ids` buffer older transformers versions saved."""
    rng = np.random.default_rng(seed)
    hidden, inner = config["hidden_size"], config["intermediate_size"]

    def normal(*shape):
        return rng.normal(0.0, 0.2, shape).astype("float32")

    def norm(name):
        return {f"{name}.weight": 1.0 + normal(hidden), f"{name}.bias": normal(hidden)}

    def linear(name, out, inp):
        return {f"{name}.weight": normal(out, inp), f"{name}.bias": normal(out)}

    tensors = {
        "embeddings.word_embeddings.weight": normal(config["vocab_size"], hidden),
        "embeddings.position_embeddings.weight": normal(config["max_position_embeddings"], hidden),
        "embeddings.token_type_embeddings.weight": normal(config["type_vocab_size"], hidden),
        "embeddings.position_ids": np.arange(config["max_position_embeddings"], dtype="int64")[None],
        **norm("embeddings.LayerNorm"), **linear("pooler.dense", hidden, hidden),
    }
    for i in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            tensors.update(linear(f"{prefix}.attention.self.{part}", hidden, hidden))
        tensors.update(linear(f"{prefix}.attention.output.dense", hidden, hidden))
        tensors.update(norm(f"{prefix}.attention.output.LayerNorm"))
        tensors.update(linear(f"{prefix}.intermediate.dense", inner, hidden))
        tensors.update(linear(f"{prefix}.output.dense", hidden, inner))
        tensors.update(norm(f"{prefix}.output.LayerNorm"))
    return tensors


def write_bert_model_directory(directory, config, tokens, seed=0):
    """`directory` as sentence-transformers ships a BERT: config.json,
    model.safetensors (`bert_model_tensors`), tokenizer.json; returns the
    tensors."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    tensors = bert_model_tensors(config, seed)
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps({**config, "model_type": "bert",
                                                       "architectures": ["BertModel"]}))
    write_tokenizer_json(directory / "tokenizer.json", tokens)
    return tensors
