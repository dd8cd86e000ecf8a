"""A `TokenDropBertEncoder` / `BertPretrainer` as keras-hub's BERT models,
and the pairing of their layers that both directions use.

The encoder's sub-layers carry keras-hub `BertBackbone`'s names, so the
conversion is a weight copy per layer (`layer_pairs`);
`interop.init_checkpoint.from_keras_hub` copies the other way over the same
pairs. keras-hub's `BertBackbone` computes GELU in its tanh form only: an
encoder with `hidden_activation="gelu_exact"` is exported with its weights
and a warning that says how much the preset's outputs differ.
"""

import keras_hub
import numpy as np
from absl import logging

from official_tokendrop.data.vocabulary import load_vocabulary
from official_tokendrop.utils.outputs import whole

# Sub-layers that carry weights, by the names both models give them.
SHARED_LAYERS = (
    "token_embedding",
    "position_embedding",
    "segment_embedding",
    "embeddings_layer_norm",
    "pooled_dense",
)
# The architecture: our encoder's arguments -> `BertBackbone`'s.
BACKBONE_ARGUMENTS = {
    "vocab_size": "vocabulary_size",
    "hidden_size": "hidden_dim",
    "num_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "inner_dim": "intermediate_dim",
    "max_sequence_length": "max_sequence_length",
    "type_vocab_size": "num_segments",
}
# The only GELU form `BertBackbone` computes, as the encoder names it.
BACKBONE_ACTIVATION = "gelu"


def layer_pairs(encoder, backbone, include_pooler=True):
    """(our layer, keras-hub's layer) of every weight-carrying layer of
    `encoder` and the `BertBackbone` `backbone`; `include_pooler=False`
    leaves the pooler out."""
    names = [n for n in SHARED_LAYERS if include_pooler or n != "pooled_dense"]
    pairs = [(encoder.get_layer(n), backbone.get_layer(n)) for n in names]
    return pairs + [(ours, backbone.get_layer(f"transformer_layer_{i}"))
                    for i, ours in enumerate(encoder.transformer_layers)]


def to_keras_hub(encoder):
    """Returns a `keras_hub.models.BertBackbone` with `encoder`'s weights.

    The backbone computes what the encoder computes at inference (no token
    dropping; GELU in its tanh form, see the module docstring), with the
    encoder's dtype policy (a bf16 run exports a bf16 backbone, whatever
    Keras' global policy). The importance table is pretraining state and
    is left out.
    """
    backbone = keras_hub.models.BertBackbone(
        **{theirs: getattr(encoder, ours) for ours, theirs in BACKBONE_ARGUMENTS.items()},
        dropout=encoder.output_dropout,
        dtype=encoder.dtype_policy,
    )
    for ours, theirs in layer_pairs(encoder, backbone):
        theirs.set_weights(ours.get_weights())
    return backbone


def activation_difference(encoder, backbone, sequence_length, seed=0):
    """The largest |difference| of `sequence_output` between `encoder` and
    `backbone` at inference, on two sequences of `sequence_length` random
    ids: what another GELU form costs in outputs."""
    rng = np.random.default_rng(seed)
    shape = (2, sequence_length)
    ids = rng.integers(0, encoder.vocab_size, shape).astype("int32")
    mask, segments = np.ones(shape, "int32"), np.zeros(shape, "int32")
    ours = encoder({"input_word_ids": ids, "input_mask": mask, "input_type_ids": segments}, training=False)
    theirs = backbone({"token_ids": ids, "padding_mask": mask, "segment_ids": segments}, training=False)
    return float(np.max(np.abs(np.asarray(ours["sequence_output"]) - np.asarray(theirs["sequence_output"]))))


def to_keras_hub_masked_lm(pretrainer, vocab_file, sequence_length, lowercase=None):
    """A `keras_hub.models.BertMaskedLM` carrying our weights, with the
    tokenizer of `vocab_file` (any form `load_vocabulary` reads), which
    normalises text as the vocabulary says (`lowercase` replaces its
    lower-casing where it is not None)."""
    backbone = to_keras_hub(pretrainer.encoder)
    tokenizer = load_vocabulary(vocab_file, lowercase).tokenizer()
    masked_lm = keras_hub.models.BertMaskedLM(
        backbone,
        preprocessor=keras_hub.models.BertMaskedLMPreprocessor(
            tokenizer, sequence_length=sequence_length
        ),
    )
    masked_lm.get_layer("mlm_head").set_weights(pretrainer.masked_lm_head.get_weights())
    return masked_lm


def write_preset(pretrainer, vocab_file, output, sequence_length, lowercase=None):
    """Writes `to_keras_hub_masked_lm`'s preset directory `output`, whole or
    not at all (an existing `output` is replaced once the new one is).
    Warns (one line) when the encoder's GELU is not the form the preset
    computes, with the size of the difference."""
    masked_lm = to_keras_hub_masked_lm(pretrainer, vocab_file, sequence_length, lowercase)
    encoder = pretrainer.encoder
    if encoder.hidden_activation != BACKBONE_ACTIVATION:
        difference = activation_difference(encoder, masked_lm.backbone, sequence_length)
        logging.warning(
            "keras-hub's BertBackbone computes GELU in its tanh form only; this model's blocks use "
            "hidden_activation=%s, so the preset's outputs differ from the model's by about %.1e (max |difference| "
            "of the sequence output on random ids); --format=transformers keeps the form.",
            encoder.hidden_activation, difference)
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
