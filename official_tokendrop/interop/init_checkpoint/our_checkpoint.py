"""A checkpoint of this project: a model_dir holding `ckpt-N`, or a
`ckpt-N` prefix. Only the weights (encoder and heads) are taken, never the
optimizer, the step or the token importance table: they are restored into
a freshly built plain BERT (no importance table) of the source's shapes,
which `to_keras_hub` turns into a backbone. The shapes are read from the
checkpoint; the GELU form and the vocabulary from the run's params.yaml
beside it, when there is one."""

import os

import numpy as np
import tensorflow as tf

from official_tokendrop.core import checkpoints
from official_tokendrop.core.experiment_configs import encoder_arguments
from official_tokendrop.core.pretrainers import read_params
from official_tokendrop.errors import DataError
from official_tokendrop.interop.init_checkpoint.source import OURS, Source
from official_tokendrop.interop.init_checkpoint.weights import head_arrays_of
from official_tokendrop.interop.keras_hub import to_keras_hub
from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder


def model_shapes(prefix):
    """`shape(path)`: the shape of the variable at `path` (e.g.
    "encoder/token_embedding/_embeddings") under the `model` node of our
    checkpoint at `prefix`, None where there is none; or None when the
    checkpoint has no `model` node. Paths are followed by name, so which
    other objects (the optimizer) also reach a variable does not matter."""

    reader = tf.train.load_checkpoint(prefix)
    graph = checkpoints.object_graph(reader)
    shapes = reader.get_variable_to_shape_map()
    model = checkpoints.child(graph, 0, "model")
    if model is None:
        return None

    def shape(path):
        current = model
        for name in path.split("/"):
            current = checkpoints.child(graph, current, name)
            if current is None:
                return None
        keys = [a.checkpoint_key for a in graph.nodes[current].attributes if a.name == "VARIABLE_VALUE"]
        return shapes.get(keys[0]) if keys else None

    return shape


def _architecture(prefix, stored):
    """The encoder's shapes as stored under `model/` (`model_shapes`)."""

    def shape(path):
        found = stored(path)
        if found is None:
            raise DataError(f"init_checkpoint {prefix} lacks model/{path}; is it a BertPretrainer checkpoint?")
        return found

    vocab_size, hidden_size = shape("encoder/token_embedding/_embeddings")
    num_layers = 0
    while stored(f"encoder/transformer_layer_{num_layers}/intermediate_dense/bias") is not None:
        num_layers += 1
    return {
        "vocab_size": vocab_size, "hidden_size": hidden_size, "num_layers": num_layers,
        "num_attention_heads": shape("encoder/transformer_layer_0/attention/_query_dense/_kernel")[1],
        "inner_dim": shape("encoder/transformer_layer_0/intermediate_dense/bias")[0],
        "max_sequence_length": shape("encoder/position_embedding/position_embeddings")[0],
        "type_vocab_size": shape("encoder/segment_embedding/_embeddings")[0],
    }


def _run_settings(prefix):
    """(hidden_activation, vocabulary) of the run whose params.yaml is
    beside `prefix`; None for what is not known."""
    directory = os.path.dirname(prefix)
    if not tf.io.gfile.exists(os.path.join(directory, "params.yaml")):
        return None, None
    task = read_params(directory).task
    vocab_file = task.vocab_file
    return (encoder_arguments(task)["hidden_activation"],
            vocab_file if vocab_file and tf.io.gfile.exists(vocab_file) else None)


def our_checkpoint(prefix):
    """The `Source` of our checkpoint `prefix` (`ckpt-N`)."""
    stored = model_shapes(prefix)
    if stored is None:
        raise DataError(f"init_checkpoint {prefix} is a TensorFlow checkpoint but neither Google's BERT "
                        "(bert/...) nor this project's (model/...).")
    shapes = _architecture(prefix, stored)
    activation, vocabulary = _run_settings(prefix)
    next_sentence = stored("next_sentence_head/bias") is not None
    source = Source(prefix, OURS, {**shapes, "hidden_activation": activation}, vocabulary)
    if activation is None:
        source.notes.append("hidden_activation not known (no params.yaml beside the checkpoint)")

    def load():
        # A plain BERT of the source's shapes: no importance or frequency
        # table to take over, no optimizer or step to restore.
        pretrainer = BertPretrainer(TokenDropBertEncoder(**shapes, token_keep_k=None), next_sentence=next_sentence)
        status = tf.train.Checkpoint(model=pretrainer).restore(prefix)
        status.expect_partial()
        try:
            status.assert_existing_objects_matched()
        except AssertionError as error:
            raise DataError(f"init_checkpoint {prefix} does not hold a whole BertPretrainer: "
                            f"{str(error).splitlines()[0][:300]}") from None
        nsp = None
        if next_sentence:
            dense = pretrainer.next_sentence_head
            nsp = {"kernel": np.asarray(dense.kernel), "bias": np.asarray(dense.bias)}
        return to_keras_hub(pretrainer.encoder), head_arrays_of(pretrainer.masked_lm_head), nsp

    source.load = load
    return source
