"""Sources described by a BERT config (transformers' config.json or
Google's bert_config.json: the same keys), whose weights keras-hub's own
transformers BERT converter reads (the code `BertBackbone.from_preset`
runs on a transformers directory), called with a loader that tolerates a
missing pooler (transformers' `BertForMaskedLM` saves none) and checks
every shape. keras-hub's converter ports no BERT head, so the heads have a
name table here."""

import keras_hub
import numpy as np
from keras_hub.src.utils.transformers import convert_bert  # keras-hub's own transformers BERT reader

from official_tokendrop.errors import DataError
from official_tokendrop.interop.init_checkpoint.source import Source

# The config's keys, by our encoder's argument names.
_CONFIG_NAMES = {"vocab_size": "vocab_size", "hidden_size": "hidden_size",
                 "num_layers": "num_hidden_layers", "num_attention_heads": "num_attention_heads",
                 "inner_dim": "intermediate_size", "max_sequence_length": "max_position_embeddings",
                 "type_vocab_size": "type_vocab_size"}

# The heads in transformers' names: {our head attribute: (name or names,
# transposed)}.
_MLM_HEAD = {
    "intermediate_dense/kernel": ("cls.predictions.transform.dense.weight", True),
    "intermediate_dense/bias": ("cls.predictions.transform.dense.bias", False),
    "intermediate_layer_norm/gamma": (("cls.predictions.transform.LayerNorm.weight",
                                       "cls.predictions.transform.LayerNorm.gamma"), False),
    "intermediate_layer_norm/beta": (("cls.predictions.transform.LayerNorm.bias",
                                      "cls.predictions.transform.LayerNorm.beta"), False),
    "output_bias": (("cls.predictions.bias", "cls.predictions.decoder.bias"), False),
}
_NSP_HEAD = {"kernel": ("cls.seq_relationship.weight", True),
             "bias": ("cls.seq_relationship.bias", False)}


class _Porter:
    """The loader keras-hub's transformers converter calls: tensors by
    transformers' name from `get_tensor`, every shape checked, a missing
    pooler recorded instead of failing."""

    def __init__(self, get_tensor, source):
        self._get, self.source, self.missing = get_tensor, source, []

    def get_tensor(self, name):
        return self._get(name)

    def has(self, name):
        try:
            self._get(name)
        except Exception:  # each reader raises its own kind for an absent name
            return False
        return True

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        try:
            stored = self._get(hf_weight_key)
        except Exception:  # each reader raises its own kind for an absent name
            if hf_weight_key.startswith("pooler."):
                self.missing.append(hf_weight_key)
                return
            raise DataError(f"init_checkpoint {self.source} lacks {hf_weight_key}.") from None
        shape = tuple(keras_variable.shape)
        try:
            value = hook_fn(stored, list(shape)) if hook_fn else stored
        except ValueError:  # a reshape that cannot fit
            value = stored
        if tuple(np.shape(value)) != shape:
            raise DataError(f"init_checkpoint {self.source}: {hf_weight_key} has shape {tuple(np.shape(stored))}, "
                            f"which does not fit its config ({keras_variable.path} is {shape}).")
        keras_variable.assign(value)


def _head_arrays(porter, table):
    """{attribute: array} of a head by transformers' names, or None when
    the source lacks it."""
    found = {}
    for key, (names, _) in table.items():
        names = (names,) if isinstance(names, str) else names
        found[key] = next((n for n in names if porter.has(n)), None)
    if not all(found.values()):
        return None
    return {key: porter.get_tensor(found[key]).T if table[key][1] else porter.get_tensor(found[key])
            for key in table}


def bert_config_source(path, config, format, activations, vocabulary, tensors):
    """The `Source` of a BERT config `config` (a dict) at `path`.

    Args:
        format: the format's name (`source.TRANSFORMERS` or `GOOGLE`).
        activations: the config's `hidden_act` values this format may
            hold -> our encoder's `hidden_activation`.
        vocabulary: the vocabulary it ships, or None.
        tensors: `() -> a context manager giving get_tensor(transformers'
            name)`.
    """
    activation = config.get("hidden_act", "gelu")
    if activation not in activations:
        raise DataError(f"init_checkpoint {path}: hidden_act={activation!r}; our encoder computes GELU "
                        f"({' or '.join(repr(a) for a in activations)} in this format).")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise DataError(f"init_checkpoint {path}: position_embedding_type="
                        f"{config['position_embedding_type']!r}; our encoder has absolute positions.")
    missing = [k for k in _CONFIG_NAMES.values() if k != "type_vocab_size" and k not in config]
    if missing:
        raise DataError(f"init_checkpoint {path}: its config lacks {missing}.")
    architecture = {ours: config.get(theirs, 2) for ours, theirs in _CONFIG_NAMES.items()}
    source = Source(path, format, {**architecture, "hidden_activation": activations[activation]}, vocabulary)

    def load():
        # keras-hub's BertBackbone holds the weights on their way to our
        # encoder (its own GELU form does not matter: nothing runs it).
        backbone = keras_hub.models.BertBackbone(
            **convert_bert.convert_backbone_config(config), num_segments=architecture["type_vocab_size"],
            dropout=0.0)
        with tensors() as get_tensor:
            porter = _Porter(get_tensor, path)
            convert_bert.convert_weights(backbone, porter, config)
            source.has_pooler = not porter.missing
            head, nsp = _head_arrays(porter, _MLM_HEAD), _head_arrays(porter, _NSP_HEAD)
        return backbone, head, nsp

    source.load = load
    return source
