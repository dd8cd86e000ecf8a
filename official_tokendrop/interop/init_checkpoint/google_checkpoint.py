"""Google's original TensorFlow BERT checkpoint: the `bert_model.ckpt`
prefix, or the directory holding it with its `bert_config.json` (and
`vocab.txt`).

Its names are transformers' with `/` for `.` and TF kernels ([in, out])
where torch has weights ([out, in]) -- transformers' own converter is that
rewrite -- so they are renamed into transformers' names and go through the
same keras-hub converter (`bert_config`). tf-models-official's converters
(`official/nlp/tools/tf1_bert_checkpoint_converter_lib.py`) map the same
names onto Model Garden's tf_keras `BertEncoder` and write a new
checkpoint; using them would add a tf_keras model and a second mapping
from it to ours, so they are not used.
"""

import os
import re

import tensorflow as tf

from official_tokendrop.data import text_files
from official_tokendrop.errors import MissingFileError
from official_tokendrop.interop.init_checkpoint.bert_config import bert_config_source
from official_tokendrop.interop.init_checkpoint.source import GOOGLE

# Google's modeling.py computes "gelu" in its tanh form, as ours does.
ACTIVATIONS = {"gelu": "gelu"}
# The variable a Google BERT checkpoint always holds.
WORD_EMBEDDINGS = "bert/embeddings/word_embeddings"


def _transformers_name(name):
    """Google's variable name as transformers names it, and whether its
    value is transposed there (TF kernel [in, out] -> torch weight [out, in])."""
    name = re.sub(r"/layer_(\d+)/", r"/layer/\1/", name).replace("/", ".")
    for embedding in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        if name == f"bert.embeddings.{embedding}":
            return name + ".weight", False
    renamed = {"cls.predictions.output_bias": "cls.predictions.bias",
               "cls.seq_relationship.output_weights": "cls.seq_relationship.weight",
               "cls.seq_relationship.output_bias": "cls.seq_relationship.bias"}
    if name in renamed:
        return renamed[name], False
    if name.endswith(".kernel"):
        return name[: -len("kernel")] + "weight", True
    return name, False


class _GoogleTensors:
    """Google's checkpoint read under transformers' names (keras-hub's
    converter matches both `bert.`-prefixed and bare names)."""

    def __init__(self, prefix):
        self.reader = tf.train.load_checkpoint(prefix)
        self.names = {}
        for name in self.reader.get_variable_to_shape_map():
            renamed, transpose = _transformers_name(name)
            self.names[renamed] = (name, transpose)
            if renamed.startswith("bert."):
                self.names.setdefault(renamed[len("bert."):], (name, transpose))

    def __enter__(self):
        return self.get_tensor

    def __exit__(self, *exc):
        return False

    def get_tensor(self, name):
        original, transpose = self.names[name]
        value = self.reader.get_tensor(original)
        return value.T if transpose else value


def google_checkpoint(prefix):
    """The `Source` of the Google BERT checkpoint `prefix`."""
    directory = os.path.dirname(prefix)
    config_file = os.path.join(directory, "bert_config.json")
    if not os.path.isfile(config_file):
        raise MissingFileError(f"init_checkpoint {prefix} is a Google BERT checkpoint without "
                               f"bert_config.json beside it (the number of attention heads is only there).")
    vocabulary = os.path.join(directory, "vocab.txt")
    return bert_config_source(prefix, text_files.read_json(config_file, "Config"), GOOGLE, ACTIVATIONS,
                              vocabulary if os.path.isfile(vocabulary) else None,
                              lambda: _GoogleTensors(prefix))
