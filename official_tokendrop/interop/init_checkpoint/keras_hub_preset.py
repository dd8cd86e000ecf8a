"""A keras-hub BERT preset (`BertBackbone.save_to_preset`, or
`BertMaskedLM.save_to_preset` as our export writes it: then the masked-LM
head too), read by keras-hub itself."""

import os

import keras_hub

from official_tokendrop.data import text_files
from official_tokendrop.errors import DataError
from official_tokendrop.interop.init_checkpoint.source import KERAS_HUB, Source
from official_tokendrop.interop.init_checkpoint.weights import backbone_architecture, head_arrays_of

# Where a preset keeps its tokenizer's vocabulary (its settings are in the
# preset's tokenizer.json, which `load_vocabulary` reads beside it).
VOCABULARY_ASSET = os.path.join("assets", "tokenizer", "vocabulary.txt")


def keras_hub_preset(path, config):
    """The `Source` of the preset directory `path` whose config.json is
    `config`."""
    if config.get("registered_name") != "keras_hub>BertBackbone":
        raise DataError(f"{path} is a keras-hub preset of {config.get('registered_name')}, not a BERT "
                        "(keras_hub>BertBackbone).")
    vocabulary = os.path.join(path, VOCABULARY_ASSET)
    source = Source(path, KERAS_HUB, backbone_architecture(config["config"]),
                    vocabulary if os.path.isfile(vocabulary) else None)
    task = os.path.join(path, "task.json")
    has_head = (os.path.isfile(task) and text_files.read_json(task, "Config").get("class_name") == "BertMaskedLM"
                and os.path.isfile(os.path.join(path, "task.weights.h5")))

    def load():
        if not has_head:
            return keras_hub.models.BertBackbone.from_preset(path), None, None
        masked_lm = keras_hub.models.BertMaskedLM.from_preset(path, preprocessor=None)
        return masked_lm.backbone, head_arrays_of(masked_lm.get_layer("mlm_head")), None

    source.load = load
    return source
