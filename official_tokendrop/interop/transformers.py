"""A pretrained model as a Hugging Face transformers BERT checkpoint.

`write_transformers(pretrainer, vocab_file, output)` writes a directory that
`transformers.BertForMaskedLM.from_pretrained(output)` and
`BertTokenizer.from_pretrained(output)` load: `config.json` in
transformers' BERT schema, `model.safetensors` with transformers' weight
names (masked-LM head included; the output projection is tied to the word
embeddings, so, as transformers itself saves it, only the word embeddings
and `cls.predictions.bias` are stored), `vocab.txt`, `tokenizer_config.json`
(lower-casing and accent stripping as the vocabulary says) and
`special_tokens_map.json`. Written with safetensors' NumPy API: no PyTorch
needed.

Activations: `config.json`'s `hidden_act` names the blocks' GELU form
(`HIDDEN_ACT`: the encoder's `"gelu"`, the tanh form, is transformers'
`gelu_new`; `"gelu_exact"` is transformers' `gelu`), so encoder outputs
match. The masked-LM head (keras-hub's `MaskedLMHead`) uses the exact form
and layer-norm epsilon 1e-5, but transformers' BERT applies `hidden_act`
and `layer_norm_eps` to its head too, so the MLM logits differ slightly
(BUILD_NOTES.md gives the measured size).
"""

import json
import os

import numpy as np
from safetensors.numpy import save_file

from official_tokendrop.data.vocabulary import load_vocabulary
from official_tokendrop.interop.keras_hub import masked_lm_head_variables
from official_tokendrop.utils.outputs import whole

# The encoder's `hidden_activation` -> transformers' `hidden_act`.
HIDDEN_ACT = {"gelu": "gelu_new", "gelu_exact": "gelu"}
SPECIAL_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                  "cls_token": "[CLS]", "mask_token": "[MASK]"}


def _dense(layer, prefix):
    """A Keras Dense (kernel [in, out]) as a torch Linear (weight [out, in])."""
    return {f"{prefix}.weight": layer.kernel.numpy().T, f"{prefix}.bias": layer.bias.numpy()}


def _attention_dense(layer, prefix, output=False):
    """An EinsumDense of MultiHeadAttention as a torch Linear.

    Query/key/value kernels are [hidden, heads, head_dim], the output
    kernel [heads, head_dim, hidden]; both flatten to [in, out].
    """
    kernel = layer.kernel.numpy()
    kernel = kernel.reshape(-1, kernel.shape[-1]) if output else kernel.reshape(kernel.shape[0], -1)
    return {f"{prefix}.weight": kernel.T, f"{prefix}.bias": layer.bias.numpy().reshape(-1)}


def _layer_norm(layer, prefix):
    return {f"{prefix}.weight": layer.gamma.numpy(), f"{prefix}.bias": layer.beta.numpy()}


# keras-hub's MaskedLMHead weights, by their variable paths below the head
# -> transformers' names.
_HEAD_WEIGHTS = {
    "intermediate_dense/kernel": "cls.predictions.transform.dense.weight",
    "intermediate_dense/bias": "cls.predictions.transform.dense.bias",
    "intermediate_layer_norm/gamma": "cls.predictions.transform.LayerNorm.weight",
    "intermediate_layer_norm/beta": "cls.predictions.transform.LayerNorm.bias",
    "output_bias": "cls.predictions.bias",
}


def _head_weights(head):
    """The masked-LM head's own weights under transformers' names (the tied
    word embeddings are stored as the encoder's)."""
    weights = {}
    for below, variable in masked_lm_head_variables(head).items():
        value = variable.numpy()
        # A Dense kernel [in, out] is a torch Linear's weight [out, in].
        weights[_HEAD_WEIGHTS[below]] = value.T if below.endswith("kernel") else value
    return weights


def transformers_weights(pretrainer):
    """{transformers name: float32 array} of `BertForMaskedLM`."""
    encoder = pretrainer.encoder
    weights = {
        "bert.embeddings.word_embeddings.weight": encoder.token_embedding.embeddings.numpy(),
        "bert.embeddings.position_embeddings.weight":
            encoder.position_embedding.position_embeddings.numpy(),
        "bert.embeddings.token_type_embeddings.weight": encoder.segment_embedding.embeddings.numpy(),
        **_layer_norm(encoder.embeddings_layer_norm, "bert.embeddings.LayerNorm"),
        **_dense(encoder.pooled_dense, "bert.pooler.dense"),
    }
    for i, block in enumerate(encoder.transformer_layers):
        prefix = f"bert.encoder.layer.{i}"
        attention = block.attention
        for name, layer in (("query", attention.query_dense), ("key", attention.key_dense),
                            ("value", attention.value_dense)):
            weights.update(_attention_dense(layer, f"{prefix}.attention.self.{name}"))
        weights.update(_attention_dense(attention.output_dense, f"{prefix}.attention.output.dense", output=True))
        weights.update(_layer_norm(block.attention_layer_norm, f"{prefix}.attention.output.LayerNorm"))
        weights.update(_dense(block.intermediate_dense, f"{prefix}.intermediate.dense"))
        weights.update(_dense(block.output_dense, f"{prefix}.output.dense"))
        weights.update(_layer_norm(block.feedforward_layer_norm, f"{prefix}.output.LayerNorm"))
    weights.update(_head_weights(pretrainer.masked_lm_head))
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in weights.items()}


def transformers_config(encoder, pad_token_id):
    """`config.json` of transformers' BERT for `encoder`."""
    return {
        "architectures": ["BertForMaskedLM"],
        "model_type": "bert",
        "vocab_size": encoder.vocab_size,
        "hidden_size": encoder.hidden_size,
        "num_hidden_layers": encoder.num_layers,
        "num_attention_heads": encoder.num_attention_heads,
        "intermediate_size": encoder.inner_dim,
        "hidden_act": HIDDEN_ACT[encoder.hidden_activation],
        "hidden_dropout_prob": encoder.output_dropout,
        "attention_probs_dropout_prob": encoder.attention_dropout,
        "max_position_embeddings": encoder.max_sequence_length,
        "type_vocab_size": encoder.type_vocab_size,
        "initializer_range": encoder.initializer_range,
        "layer_norm_eps": 1e-12,
        "pad_token_id": pad_token_id,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
    }


def write_transformers(pretrainer, vocab_file, output, sequence_length, lowercase=None):
    """Writes the transformers directory `output`, whole or not at all (an
    existing `output` is replaced once the new one is). `vocab_file` is any
    form `load_vocabulary` reads; `lowercase` replaces its lower-casing
    where it is not None."""
    vocab = load_vocabulary(vocab_file, lowercase)
    with whole("transformers export", output, directory=True) as directory:
        _write_files(pretrainer, vocab, directory, sequence_length)
    return output


def _write_files(pretrainer, vocab, directory, sequence_length):
    """The directory's files: weights, config, tokenizer settings, vocabulary."""
    save_file(transformers_weights(pretrainer), os.path.join(directory, "model.safetensors"),
              metadata={"format": "pt"})
    config = transformers_config(pretrainer.encoder, vocab.tokens.index("[PAD]"))
    tokenizer = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": vocab.lowercase,
        # Said outright: transformers strips accents with lower-casing
        # unless told, which a vocabulary of ours (accents kept) is not.
        "strip_accents": vocab.strip_accents,
        "tokenize_chinese_chars": True,
        "model_max_length": sequence_length,
        **SPECIAL_TOKENS,
    }
    files = {"config.json": config, "tokenizer_config.json": tokenizer,
             "special_tokens_map.json": SPECIAL_TOKENS}
    for name, content in files.items():
        with open(os.path.join(directory, name), "w") as f:
            json.dump(content, f, indent=2)
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab.tokens) + "\n")
