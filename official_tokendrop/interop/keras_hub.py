"""A `TokenDropBertEncoder` / `BertPretrainer` as keras-hub's BERT models.

The encoder's sub-layers carry keras-hub `BertBackbone`'s names, so the
conversion is a weight copy per layer.
"""

import keras_hub

from official_tokendrop.utils.outputs import whole


# Sub-layers that carry weights, by the names both models give them.
SHARED_LAYERS = (
    "token_embedding",
    "position_embedding",
    "segment_embedding",
    "embeddings_layer_norm",
    "pooled_dense",
)


def to_keras_hub(encoder):
    """Returns a `keras_hub.models.BertBackbone` with `encoder`'s weights.

    The backbone computes what the encoder computes at inference (no token
    dropping), with the encoder's dtype policy (a bf16 run exports a bf16
    backbone, whatever Keras' global policy). The importance table is
    pretraining state and is left out.
    """
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=encoder.vocab_size,
        num_layers=encoder.num_layers,
        num_heads=encoder.num_attention_heads,
        hidden_dim=encoder.hidden_size,
        intermediate_dim=encoder.inner_dim,
        dropout=encoder.output_dropout,
        max_sequence_length=encoder.max_sequence_length,
        num_segments=encoder.type_vocab_size,
        dtype=encoder.dtype_policy,
    )
    pairs = [
        (encoder.get_layer(name), backbone.get_layer(name))
        for name in SHARED_LAYERS
    ]
    pairs += [
        (ours, backbone.get_layer(f"transformer_layer_{i}"))
        for i, ours in enumerate(encoder.transformer_layers)
    ]
    for ours, theirs in pairs:
        theirs.set_weights(ours.get_weights())
    return backbone


def to_keras_hub_masked_lm(pretrainer, vocab_file, sequence_length, lowercase=True):
    """A `keras_hub.models.BertMaskedLM` (with tokenizer) carrying our weights."""
    backbone = to_keras_hub(pretrainer.encoder)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab_file, lowercase=lowercase)
    masked_lm = keras_hub.models.BertMaskedLM(
        backbone,
        preprocessor=keras_hub.models.BertMaskedLMPreprocessor(
            tokenizer, sequence_length=sequence_length
        ),
    )
    masked_lm.get_layer("mlm_head").set_weights(pretrainer.masked_lm_head.get_weights())
    return masked_lm


def write_preset(pretrainer, vocab_file, output, sequence_length, lowercase=True):
    """Writes `to_keras_hub_masked_lm`'s preset directory `output`, whole or
    not at all (an existing `output` is replaced once the new one is)."""
    masked_lm = to_keras_hub_masked_lm(pretrainer, vocab_file, sequence_length, lowercase)
    with whole("keras-hub preset", output, directory=True) as directory:
        masked_lm.save_to_preset(directory)
    return output


def masked_lm_head_variables(head):
    """A keras-hub `MaskedLMHead`'s own variables by their paths below the
    head (`intermediate_dense/kernel`, `intermediate_dense/bias`,
    `intermediate_layer_norm/gamma`, `intermediate_layer_norm/beta`,
    `output_bias`); the tied output projection is the encoder's token
    embedding and is left out."""
    variables = {}
    for variable in head.weights:
        parts = variable.path.split("/")
        if head.name in parts:
            variables["/".join(parts[parts.index(head.name) + 1:])] = variable
    return variables

