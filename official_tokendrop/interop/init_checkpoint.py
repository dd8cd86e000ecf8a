"""`task.init_checkpoint`: a pretrainer's starting weights from a BERT
someone else trained.

    report = initialize_from(pretrainer, source, vocab_file=None)
    print(report.line())

`source` is any of:

- a keras-hub BERT preset directory (`BertBackbone.save_to_preset`, or
  `BertMaskedLM.save_to_preset` as our export writes: then the masked-LM
  head too);
- a Hugging Face transformers BERT directory (`config.json` +
  `model.safetensors`, or sharded with `model.safetensors.index.json`);
  a directory with only `pytorch_model.bin` is refused with the command
  that converts it (no PyTorch here);
- Google's original TensorFlow BERT checkpoint: the `bert_model.ckpt`
  prefix, or the directory holding it with its `bert_config.json` (and
  `vocab.txt`);
- a checkpoint of this project: a model_dir holding `ckpt-N`, or a
  `ckpt-N` prefix. Only the weights (encoder and heads) are taken, never the
  optimizer, the step or the token importance table.

Every source becomes a keras-hub `BertBackbone` (plus the masked-LM head's
arrays where it has a head) which `from_keras_hub` copies into our encoder,
the inverse of `interop.keras_hub.to_keras_hub` over the same layer names.
keras-hub reads presets itself; transformers directories go through
keras-hub's own transformers BERT converter (the code
`BertBackbone.from_preset` runs on such a directory), called with a reader
that tolerates a missing pooler (transformers' `BertForMaskedLM` saves
none) and checks every shape. Google's checkpoints carry transformers'
names with `/` for `.` and TF kernels ([in, out]) where torch has weights
([out, in]) -- transformers' own converter is that rewrite -- so they are
renamed into transformers' names and go through the same keras-hub
converter. tf-models-official's converters
(`official/nlp/tools/tf1_bert_checkpoint_converter_lib.py`) map the same
names onto Model Garden's tf_keras `BertEncoder` and write a new
checkpoint; using them would add a tf_keras model and a second mapping
from it to ours, so they are not used. Our own checkpoints are restored
into a freshly built plain BERT (no importance table) of the source's
shapes, which `to_keras_hub` turns into a backbone.

Nothing in `pretrainer` changes unless every check passes: the source is
recognised, its shapes equal the model's (each difference named with our
experiment key and both values), `vocab_file` agrees with the source's
vocabulary in size and special-token ids, and every tensor has its shape.

Activations: our blocks and keras-hub's BERT compute GELU in its tanh form,
as Google's original BERT does; transformers' `hidden_act: "gelu"` is the
exact form, so a transformers model that says so computes slightly
different outputs than ours with its weights (the report says so).
"""

import dataclasses
import json
import os
import re

import keras_hub
import numpy as np
import tensorflow as tf
import yaml
from keras_hub.src.utils.transformers import convert_bert  # keras-hub's own transformers BERT reader
from keras_hub.src.utils.transformers.safetensor_utils import SafetensorLoader

from official_tokendrop.core import checkpoints
from official_tokendrop.core.experiment_configs import encoder_key
from official_tokendrop.data.vocabulary import load_vocabulary
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError
from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder
from official_tokendrop.interop.keras_hub import SHARED_LAYERS, masked_lm_head_variables, to_keras_hub

KERAS_HUB, TRANSFORMERS, GOOGLE, OURS = (
    "keras-hub preset", "transformers BERT", "Google BERT checkpoint", "token-drop checkpoint"
)

# The architecture as our encoder's arguments, in the order mismatches are named.
_ARCHITECTURE = ("vocab_size", "hidden_size", "num_layers", "num_attention_heads", "inner_dim",
                 "max_sequence_length", "type_vocab_size")
_KERAS_HUB_NAMES = {"vocab_size": "vocabulary_size", "hidden_size": "hidden_dim",
                    "num_layers": "num_layers", "num_attention_heads": "num_heads",
                    "inner_dim": "intermediate_dim", "max_sequence_length": "max_sequence_length",
                    "type_vocab_size": "num_segments"}
# transformers' config.json and Google's bert_config.json share these keys.
_BERT_CONFIG_NAMES = {"vocab_size": "vocab_size", "hidden_size": "hidden_size",
                      "num_layers": "num_hidden_layers", "num_attention_heads": "num_attention_heads",
                      "inner_dim": "intermediate_size", "max_sequence_length": "max_position_embeddings",
                      "type_vocab_size": "type_vocab_size"}
_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Activations that are BERT's GELU (tanh form or exact).
_TANH_GELU = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
_GELU = ("gelu",) + _TANH_GELU

# The heads in transformers' names (keras-hub's transformers converter
# ports no BERT head): {our head attribute: (name, transpose)}.
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


@dataclasses.dataclass(frozen=True)
class InitReport:
    """What `initialize_from` did; `line()` is what a user sees."""

    source: str
    format: str
    initialized: int  # variables of the pretrainer that now hold the source's values
    total: int  # variables of the pretrainer
    fresh: tuple  # parts left as built: "token importance table", "masked-LM head", ...
    notes: tuple = ()

    def line(self):
        text = (f"init_checkpoint {self.source} ({self.format}): initialized {self.initialized} of "
                f"{self.total} variables; fresh: {', '.join(self.fresh)}")
        return text + "".join(f"; {note}" for note in self.notes)

    __str__ = line


@dataclasses.dataclass
class _Source:
    """A recognised source, read far enough to check it before loading."""

    path: str
    format: str
    architecture: dict  # our encoder's argument names -> the source's values
    vocabulary: str = None  # the vocabulary file it ships, if any
    # () -> (BertBackbone, masked-LM head arrays or None, next-sentence head arrays or None)
    load: object = None
    has_pooler: bool = True
    notes: list = dataclasses.field(default_factory=list)


# === The copy: keras-hub BertBackbone -> our encoder ===
def _encoder_pairs(backbone, encoder, include_pooler=True):
    """(our layer, keras-hub layer) of every weight-carrying layer."""
    names = [n for n in SHARED_LAYERS if include_pooler or n != "pooled_dense"]
    pairs = [(encoder.get_layer(n), backbone.get_layer(n)) for n in names]
    return pairs + [(ours, backbone.get_layer(f"transformer_layer_{i}"))
                    for i, ours in enumerate(encoder.transformer_layers)]


def _check_plan(plan, what):
    for variable, value in plan:
        if tuple(variable.shape) != tuple(np.shape(value)):
            raise DataError(f"{what}: {variable.path} has shape {tuple(variable.shape)} but the source's "
                            f"value has {tuple(np.shape(value))}.")


def _apply(plan):
    for variable, value in plan:
        variable.assign(np.asarray(value, dtype=variable.dtype))


def _encoder_plan(backbone, encoder, include_pooler=True):
    plan = []
    for ours, theirs in _encoder_pairs(backbone, encoder, include_pooler):
        if len(ours.weights) != len(theirs.weights):
            raise DataError(f"{theirs.name}: the source has {len(theirs.weights)} weights, ours "
                            f"{len(ours.weights)}.")
        plan += zip(ours.weights, theirs.get_weights())
    return plan


def _backbone_architecture(backbone):
    return {ours: getattr(backbone, theirs) for ours, theirs in _KERAS_HUB_NAMES.items()}


def from_keras_hub(backbone, encoder, include_pooler=True):
    """Copies a keras-hub `BertBackbone`'s weights into our `encoder` (the
    inverse of `to_keras_hub`); returns how many variables it set.

    Shapes are checked first (a `ConfigurationError` names each differing
    experiment key); nothing changes unless all fit. The token importance
    table is not a BERT weight and is left as it is. `include_pooler=False`
    leaves the pooler as it is.
    """
    check_fits(_backbone_architecture(backbone), architecture_of(encoder), backbone.name)
    plan = _encoder_plan(backbone, encoder, include_pooler)
    _check_plan(plan, backbone.name)
    _apply(plan)
    return len(plan)


def architecture_of(encoder):
    """The architecture values (encoder argument names) of a built encoder."""
    return {k: getattr(encoder, k) for k in _ARCHITECTURE}


def check_fits(architecture, ours, source):
    """Raises one `ConfigurationError` naming every architecture value of
    `source` that differs from `ours` (encoder arguments), by our
    experiment key."""

    differ = [f"{encoder_key(k)}={ours[k]} but the source has {architecture[k]}"
              for k in _ARCHITECTURE if architecture[k] != ours[k]]
    if differ:
        raise ConfigurationError(f"init_checkpoint {source} does not fit the model: {'; '.join(differ)}.")


def _head_arrays_of(head):
    return {k: np.asarray(v) for k, v in masked_lm_head_variables(head).items()}


# === Reading sources ===
def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise DataError(f"{path} is not readable JSON ({str(error).splitlines()[0]}).") from None


def _file_if(path):
    return path if os.path.isfile(path) else None


def _keras_hub_preset(path, config):
    if config.get("registered_name") != "keras_hub>BertBackbone":
        raise DataError(f"{path} is a keras-hub preset of {config.get('registered_name')}, not a BERT "
                        "(keras_hub>BertBackbone).")
    settings = config["config"]
    source = _Source(path, KERAS_HUB, {ours: settings.get(theirs) for ours, theirs in _KERAS_HUB_NAMES.items()},
                     _file_if(os.path.join(path, "assets", "tokenizer", "vocabulary.txt")))
    task = os.path.join(path, "task.json")
    has_head = (os.path.isfile(task) and _read_json(task).get("class_name") == "BertMaskedLM"
                and os.path.isfile(os.path.join(path, "task.weights.h5")))

    def load():
        if not has_head:
            return keras_hub.models.BertBackbone.from_preset(path), None, None
        masked_lm = keras_hub.models.BertMaskedLM.from_preset(path, preprocessor=None)
        return masked_lm.backbone, _head_arrays_of(masked_lm.get_layer("mlm_head")), None

    source.load = load
    return source


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


def _first(porter, names):
    names = (names,) if isinstance(names, str) else names
    return next((n for n in names if porter.has(n)), None)


def _head_arrays(porter, table):
    """{attribute: array} of a head by transformers' names, or None when
    the source lacks it."""
    found = {key: _first(porter, names) for key, (names, _) in table.items()}
    if not all(found.values()):
        return None
    return {key: porter.get_tensor(found[key]).T if table[key][1] else porter.get_tensor(found[key])
            for key in table}


def _bert_config(path, config, format, vocabulary, get_tensor_factory):
    """A source read with keras-hub's transformers BERT converter; `config`
    is transformers' config.json or Google's bert_config.json (same keys)."""
    activation = config.get("hidden_act", "gelu")
    if activation not in _GELU:
        raise DataError(f"init_checkpoint {path}: hidden_act={activation!r}; our encoder computes GELU.")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise DataError(f"init_checkpoint {path}: position_embedding_type="
                        f"{config['position_embedding_type']!r}; our encoder has absolute positions.")
    missing = [k for k in _BERT_CONFIG_NAMES.values() if k != "type_vocab_size" and k not in config]
    if missing:
        raise DataError(f"init_checkpoint {path}: its config lacks {missing}.")
    architecture = {ours: config.get(theirs, 2) for ours, theirs in _BERT_CONFIG_NAMES.items()}
    source = _Source(path, format, architecture, vocabulary)
    if format == TRANSFORMERS and activation == "gelu":
        source.notes.append("the source's blocks compute exact GELU (hidden_act=gelu), ours its tanh "
                            "form: outputs differ slightly")

    def load():
    
        backbone = keras_hub.models.BertBackbone(
            **convert_bert.convert_backbone_config(config), num_segments=architecture["type_vocab_size"],
            dropout=0.0)
        with get_tensor_factory() as get_tensor:
            porter = _Porter(get_tensor, path)
            convert_bert.convert_weights(backbone, porter, config)
            source.has_pooler = not porter.missing
            head, nsp = _head_arrays(porter, _MLM_HEAD), _head_arrays(porter, _NSP_HEAD)
        return backbone, head, nsp

    source.load = load
    return source


class _Safetensors:
    """keras-hub's safetensors reader as a context giving `get_tensor`."""

    def __init__(self, path):
        self.loader = SafetensorLoader(path)

    def __enter__(self):
        self.loader.__enter__()
        return self.loader.get_tensor

    def __exit__(self, *exc):
        return self.loader.__exit__(*exc)


def _transformers_directory(path, config):
    if config.get("model_type") != "bert":
        raise DataError(f"init_checkpoint {path} is a transformers {config.get('model_type')!r} model, "
                        "not a BERT.")
    if not any(os.path.isfile(os.path.join(path, f))
               for f in ("model.safetensors", "model.safetensors.index.json")):
        if os.path.isfile(os.path.join(path, "pytorch_model.bin")):
            raise DataError(
                f"init_checkpoint {path} holds pytorch_model.bin but no model.safetensors, and PyTorch is "
                "not installed here; convert it where it is: python -c \"import torch, safetensors.torch "
                f"as s; d = torch.load('{path}/pytorch_model.bin', map_location='cpu'); "
                f"s.save_file({{k: v.clone().contiguous() for k, v in d.items()}}, "
                f"'{path}/model.safetensors', metadata={{'format': 'pt'}})\"")
        raise DataError(f"init_checkpoint {path} has a transformers config.json but no model.safetensors.")
    return _bert_config(path, config, TRANSFORMERS, _file_if(os.path.join(path, "vocab.txt")),
                        lambda: _Safetensors(path))


def _google_name(name):
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
            renamed, transpose = _google_name(name)
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


def _variable_names(prefix):
    try:
        return tf.train.list_variables(prefix)
    except Exception as error:  # NotFoundError, DataLossError, ...
        raise DataError(f"init_checkpoint {prefix} is not a readable checkpoint "
                        f"({type(error).__name__}: {str(error).splitlines()[0][:200]}).") from None


def _google_checkpoint(prefix):
    directory = os.path.dirname(prefix)
    config_file = os.path.join(directory, "bert_config.json")
    if not os.path.isfile(config_file):
        raise MissingFileError(f"init_checkpoint {prefix} is a Google BERT checkpoint without "
                               f"bert_config.json beside it (the number of attention heads is only there).")
    return _bert_config(prefix, _read_json(config_file), GOOGLE,
                        _file_if(os.path.join(directory, "vocab.txt")), lambda: _GoogleTensors(prefix))


def _model_shapes(prefix):
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


def _our_checkpoint(prefix):
    stored = _model_shapes(prefix)
    if stored is None:
        raise DataError(f"init_checkpoint {prefix} is a TensorFlow checkpoint but neither Google's BERT "
                        "(bert/...) nor this project's (model/...).")

    def shape(path):
        found = stored(path)
        if found is None:
            raise DataError(f"init_checkpoint {prefix} lacks model/{path}; is it a BertPretrainer checkpoint?")
        return found

    vocab_size, hidden_size = shape("encoder/token_embedding/_embeddings")
    num_layers = 0
    while stored(f"encoder/transformer_layer_{num_layers}/intermediate_dense/bias") is not None:
        num_layers += 1
    architecture = {
        "vocab_size": vocab_size, "hidden_size": hidden_size, "num_layers": num_layers,
        "num_attention_heads": shape("encoder/transformer_layer_0/attention/_query_dense/_kernel")[1],
        "inner_dim": shape("encoder/transformer_layer_0/intermediate_dense/bias")[0],
        "max_sequence_length": shape("encoder/position_embedding/position_embeddings")[0],
        "type_vocab_size": shape("encoder/segment_embedding/_embeddings")[0],
    }
    next_sentence = stored("next_sentence_head/bias") is not None
    source = _Source(prefix, OURS, architecture, _our_vocabulary(prefix))

    def load():
        # A plain BERT of the source's shapes: no importance or frequency
        # table to take over, no optimizer or step to restore.
        pretrainer = BertPretrainer(TokenDropBertEncoder(**architecture, token_keep_k=None),
                                    next_sentence=next_sentence)
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
        return to_keras_hub(pretrainer.encoder), _head_arrays_of(pretrainer.masked_lm_head), nsp

    source.load = load
    return source


def _our_vocabulary(prefix):
    """task.vocab_file of the params.yaml beside our checkpoint, if any."""
    params = os.path.join(os.path.dirname(prefix), "params.yaml")
    if not os.path.isfile(params):
        return None

    try:
        with open(params, encoding="utf-8") as f:
            vocab_file = ((yaml.safe_load(f) or {}).get("task") or {}).get("vocab_file")
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    return _file_if(vocab_file) if vocab_file else None


def _checkpoint_prefix(prefix):
    names = {name for name, _ in _variable_names(prefix)}
    if "bert/embeddings/word_embeddings" in names:
        return _google_checkpoint(prefix)
    return _our_checkpoint(prefix)


def read_source(path):
    """Recognises `path` and reads its architecture and vocabulary (no
    weights yet); raises a one-line project error otherwise."""
    path = str(path).rstrip("/") or "/"
    for suffix in (".index", ".data-00000-of-00001"):
        if path.endswith(suffix) and os.path.isfile(path):
            path = path[: -len(suffix)]
    if os.path.isfile(path + ".index"):
        return _checkpoint_prefix(path)
    if not os.path.exists(path):
        raise MissingFileError(f"init_checkpoint {path} does not exist.")
    if os.path.isdir(path):
        config_file = os.path.join(path, "config.json")
        if os.path.isfile(config_file):
            config = _read_json(config_file)
            if "registered_name" in config:
                return _keras_hub_preset(path, config)
            if "model_type" in config:
                return _transformers_directory(path, config)
        ours = checkpoints.candidates(path)
        if ours:
            return _our_checkpoint(ours[0])
        if os.path.isfile(os.path.join(path, "bert_model.ckpt.index")):
            return _google_checkpoint(os.path.join(path, "bert_model.ckpt"))
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return _checkpoint_prefix(latest)
        if os.path.isfile(os.path.join(path, "pytorch_model.bin")):
            raise DataError(f"init_checkpoint {path} holds pytorch_model.bin without a transformers "
                            "config.json; a BERT directory needs both (and model.safetensors).")
    raise DataError(
        f"init_checkpoint {path} holds no recognisable BERT: expected a keras-hub preset or transformers "
        "directory (config.json), Google's bert_model.ckpt, or this project's ckpt-N.")


# === Vocabulary ===
def _tokens(path):
    with tf.io.gfile.GFile(path, "rb") as f:
        return [t for t in (line.strip() for line in f.read().decode("utf-8").splitlines()) if t]


def check_vocabulary(vocab_file, source_vocabulary, source):
    """Refuses `vocab_file` (task.vocab_file) when its size or special-token
    ids differ from the source's vocabulary; returns how many other tokens
    differ."""

    ours = load_vocabulary(vocab_file).tokens
    theirs = _tokens(source_vocabulary)
    if len(ours) != len(theirs):
        raise ConfigurationError(
            f"task.vocab_file {vocab_file} has {len(ours)} tokens but init_checkpoint {source}'s vocabulary "
            f"{source_vocabulary} has {len(theirs)}; train with the source's vocabulary.")
    ids = {t: (ours.index(t) if t in ours else None, theirs.index(t) if t in theirs else None)
           for t in _SPECIAL_TOKENS}
    differ = [f"{t} is {a} there and {b} in the source" for t, (a, b) in ids.items() if a != b]
    if differ:
        raise ConfigurationError(
            f"task.vocab_file {vocab_file} and init_checkpoint {source}'s vocabulary {source_vocabulary} "
            f"give special tokens other ids: {'; '.join(differ)}.")
    return sum(a != b for a, b in zip(ours, theirs))


# === The entry point ===
def _head_plan(head, arrays):
    return [(variable, arrays[k]) for k, variable in masked_lm_head_variables(head).items()]


def check_source(source, architecture, vocab_file=None):
    """Recognises `source` and checks it against our encoder's
    `architecture` (its argument names) and `vocab_file`, reading no
    weights; returns (the source, notes for the report). The trainer calls
    this before it writes anything."""
    found = read_source(source)
    check_fits(found.architecture, architecture, found.path)
    notes = list(found.notes)
    if vocab_file:
        if found.vocabulary:
            other = check_vocabulary(vocab_file, found.vocabulary, found.path)
            if other:
                notes.append(f"{other} tokens of task.vocab_file differ from the source's vocabulary")
        else:
            notes.append("vocabulary not checked (the source ships none)")
    return found, notes


def initialize_from(pretrainer, source, vocab_file=None):
    """Initializes `pretrainer`'s (a built `BertPretrainer`) encoder, and
    its heads where the source has them, from `source` (see the module
    docstring); returns an `InitReport`.

    Everything is checked before anything changes; a refusal is one
    `ConfigurationError` (the model or task.vocab_file does not fit),
    `DataError` (the source is not a BERT or is inconsistent) or
    `MissingFileError`. The optimizer, the step and the token importance
    (or frequency) table are never touched.
    """
    encoder = pretrainer.encoder
    found, notes = check_source(source, architecture_of(encoder), vocab_file)
    backbone, head, nsp = found.load()
    plan = _encoder_plan(backbone, encoder, include_pooler=found.has_pooler)
    fresh = []
    if head is not None:
        plan += _head_plan(pretrainer.masked_lm_head, head)
    else:
        fresh.append("masked-LM head (the source has none)")
    if pretrainer.next_sentence:
        if nsp is not None:
            dense = pretrainer.next_sentence_head
            plan += [(dense.kernel, nsp["kernel"]), (dense.bias, nsp["bias"])]
        else:
            fresh.append("next-sentence head (the source has none)")
    if not found.has_pooler:
        fresh.append("pooler (the source has none)")
    if encoder.token_importance is not None:
        fresh.append("token importance table")
    if encoder.token_frequency is not None:
        fresh.append("token frequency table")
    fresh.append("optimizer and step")
    _check_plan(plan, f"init_checkpoint {found.path}")
    _apply(plan)
    initialized = len({id(v) for v, _ in plan})
    return InitReport(found.path, found.format, initialized, len(pretrainer.weights), tuple(fresh),
                      tuple(notes))
