"""The BERT a fine-tune starts from: any BERT a user holds, read once.

    pretrained = load_pretrained("runs/demo/export")
    pretrained.check_sequence_length(128)
    classifier = keras_hub.models.BertTextClassifier(
        pretrained.backbone, num_classes=2, preprocessor=pretrained.preprocessor(128))

`path` is anything `interop.init_checkpoint.read_source` recognises: our
keras-hub export or any keras-hub BERT preset, a transformers BERT directory
(safetensors; `bert.`-prefixed or bare names, with or without a pooler),
Google's TF1 checkpoint, or this project's model_dir. The weights come from
the source's own `load()` (keras-hub's readers and converters); the
vocabulary from `data.vocabulary.load_vocabulary`, the project's one reader
(its checks, and the source's normalisation: lower-casing and accent
stripping), and the tokenizer from that vocabulary, so text is split as the
source model split it. What the source's record notes (e.g. a transformers
model computing exact GELU where keras-hub's backbone computes its tanh
form) is printed to stderr.
"""

import dataclasses
import os
import sys

import keras_hub

from official_tokendrop.data.vocabulary import Vocabulary, load_vocabulary
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError
from official_tokendrop.interop.init_checkpoint import GOOGLE, KERAS_HUB, TRANSFORMERS, read_source
from official_tokendrop.interop.keras_hub import BACKBONE_ACTIVATION

# What keras-hub reads from a preset to fine-tune it besides the weights.
PRESET_FILES = ("config.json", "tokenizer.json", "model.weights.h5", "assets/tokenizer/vocabulary.txt")
# BERT's hidden_dropout_prob, which keras-hub's `BertBackbone` takes by
# default: the rate a transformers or Google BERT is fine-tuned with.
# `read_source` builds their backbones without dropout (it copies weights).
BERT_DROPOUT = 0.1


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """A BERT ready to fine-tune.

    Args:
        path: str. The source as the user named it (`read_source`'s path).
        backbone: `keras_hub.models.BertBackbone` holding the source's weights.
        tokenizer: `keras_hub.models.BertTokenizer` of the source's vocabulary
            and normalisation.
        vocabulary: `data.vocabulary.Vocabulary` of that vocabulary.
        source: what `interop.init_checkpoint.read_source(path)` returned
            (its `format`, `architecture`, `notes`).
    """

    path: str
    backbone: keras_hub.models.BertBackbone
    tokenizer: keras_hub.models.BertTokenizer
    vocabulary: Vocabulary
    source: object

    @property
    def max_sequence_length(self):
        return self.backbone.max_sequence_length

    def check_sequence_length(self, sequence_length):
        """Refuses more tokens per example than the model has positions for."""
        if sequence_length > self.max_sequence_length:
            raise ConfigurationError(f"--sequence_length={sequence_length} exceeds the preset's "
                                     f"{self.max_sequence_length} position embeddings ({self.path}).")

    def fresh_backbone(self):
        """A copy of the backbone holding the pretrained weights, for one
        fine-tune (fine-tuning changes its backbone's weights)."""
        return copy_backbone(self.backbone)

    def preprocessor(self, sequence_length):
        """keras-hub's BERT classifier preprocessing of this tokenizer:
        [CLS] a [SEP] (b [SEP]), pairs truncated round-robin."""
        self.check_sequence_length(sequence_length)
        return keras_hub.models.BertTextClassifierPreprocessor(self.tokenizer, sequence_length=sequence_length)


def _check_preset_files(source):
    missing = [f for f in PRESET_FILES if not os.path.exists(os.path.join(source.path, f))]
    if missing:
        raise MissingFileError(f"Preset {source.path} lacks {missing}; export it with official_tokendrop.export.")


def _vocabulary(source):
    if not source.vocabulary:
        raise MissingFileError(f"Preset {source.path} ({source.format}) ships no vocabulary; a fine-tune "
                               "needs the one the model was trained with.")
    vocabulary = load_vocabulary(source.vocabulary)
    embedded = source.architecture["vocab_size"]
    if len(vocabulary) > embedded:
        raise DataError(f"Preset {source.path}: its vocabulary has {len(vocabulary)} tokens but the model embeds "
                        f"only {embedded} ({source.vocabulary}); the preset is inconsistent.")
    return vocabulary


def copy_backbone(backbone, **config):
    """A `BertBackbone` of `backbone`'s config (with `config`'s changes)
    and a copy of its weights."""
    copy = keras_hub.models.BertBackbone.from_config({**backbone.get_config(), **config})
    copy.set_weights(backbone.get_weights())
    return copy


def _backbone(source):
    backbone = source.load()[0]
    return copy_backbone(backbone, dropout=BERT_DROPOUT) if source.format in (TRANSFORMERS, GOOGLE) else backbone


def load_pretrained(path):
    """Reads the BERT at `path` (see the module docstring); a path that is
    not there, not a BERT, or whose vocabulary does not fit its embedding is
    one project error naming it."""
    path = str(path)
    if not os.path.exists(path):
        raise MissingFileError(f"Preset {path} does not exist; export one with official_tokendrop.export.")
    source = read_source(path)
    if source.format == KERAS_HUB:
        _check_preset_files(source)
    vocabulary = _vocabulary(source)
    notes = list(source.notes)
    activation = source.architecture.get("hidden_activation", BACKBONE_ACTIVATION)
    if activation != BACKBONE_ACTIVATION:
        notes.append(f"its blocks compute {activation} (exact GELU), keras-hub's BertBackbone (fine-tuned here) "
                     f"its tanh form ({BACKBONE_ACTIVATION}): outputs differ slightly from the source's")
    for note in notes:
        print(f"Preset {source.path} ({source.format}): {note}", file=sys.stderr)
    return Pretrained(source.path, _backbone(source), vocabulary.tokenizer(), vocabulary, source)
