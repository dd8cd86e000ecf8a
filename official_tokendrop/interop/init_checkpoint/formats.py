"""Which format a `task.init_checkpoint` path is, and its reader."""

import os

import tensorflow as tf

from official_tokendrop.core import checkpoints
from official_tokendrop.data import text_files
from official_tokendrop.errors import DataError, MissingFileError
from official_tokendrop.interop.init_checkpoint.google_checkpoint import WORD_EMBEDDINGS, google_checkpoint
from official_tokendrop.interop.init_checkpoint.keras_hub_preset import keras_hub_preset
from official_tokendrop.interop.init_checkpoint.our_checkpoint import our_checkpoint
from official_tokendrop.interop.init_checkpoint.transformers_directory import transformers_directory


def _variable_names(prefix):
    try:
        return tf.train.list_variables(prefix)
    except Exception as error:  # NotFoundError, DataLossError, ...
        raise DataError(f"init_checkpoint {prefix} is not a readable checkpoint "
                        f"({type(error).__name__}: {str(error).splitlines()[0][:200]}).") from None


def _checkpoint_prefix(prefix):
    names = {name for name, _ in _variable_names(prefix)}
    if WORD_EMBEDDINGS in names:
        return google_checkpoint(prefix)
    return our_checkpoint(prefix)


def _directory(path):
    """The source of the directory `path`, or None when it holds none."""
    config_file = os.path.join(path, "config.json")
    if os.path.isfile(config_file):
        config = text_files.read_json(config_file, "Config")
        if "registered_name" in config:
            return keras_hub_preset(path, config)
        if "model_type" in config:
            return transformers_directory(path, config)
    ours = checkpoints.candidates(path)
    if ours:
        return our_checkpoint(ours[0])
    if os.path.isfile(os.path.join(path, "bert_model.ckpt.index")):
        return google_checkpoint(os.path.join(path, "bert_model.ckpt"))
    latest = tf.train.latest_checkpoint(path)
    if latest:
        return _checkpoint_prefix(latest)
    if os.path.isfile(os.path.join(path, "pytorch_model.bin")):
        raise DataError(f"init_checkpoint {path} holds pytorch_model.bin without a transformers "
                        "config.json; a BERT directory needs both (and model.safetensors).")
    return None


def read_source(path):
    """Recognises `path` and reads its architecture and vocabulary (no
    weights yet: its `Source.load` does that); raises a one-line project
    error otherwise."""
    path = str(path).rstrip("/") or "/"
    for suffix in (".index", ".data-00000-of-00001"):
        if path.endswith(suffix) and os.path.isfile(path):
            path = path[: -len(suffix)]
    if os.path.isfile(path + ".index"):
        return _checkpoint_prefix(path)
    if not os.path.exists(path):
        raise MissingFileError(f"init_checkpoint {path} does not exist.")
    found = _directory(path) if os.path.isdir(path) else None
    if found is None:
        raise DataError(
            f"init_checkpoint {path} holds no recognisable BERT: expected a keras-hub preset or transformers "
            "directory (config.json), Google's bert_model.ckpt, or this project's ckpt-N.")
    return found
