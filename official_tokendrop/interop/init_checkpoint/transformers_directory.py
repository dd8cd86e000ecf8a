"""A Hugging Face transformers BERT directory: `config.json` and
`model.safetensors` (or shards with `model.safetensors.index.json`), its
weights named with or without the `bert.` prefix (`BertForMaskedLM` and
`BertModel` as they save them), its vocabulary `tokenizer.json` or
`vocab.txt`. A directory with only `pytorch_model.bin` is refused with the
command that converts it (no PyTorch here)."""

import os

from keras_hub.src.utils.transformers.safetensor_utils import SafetensorLoader

from official_tokendrop.data.vocabulary import vocabulary_file
from official_tokendrop.errors import DataError
from official_tokendrop.interop.init_checkpoint.bert_config import bert_config_source
from official_tokendrop.interop.init_checkpoint.source import TRANSFORMERS
from official_tokendrop.interop.transformers import HIDDEN_ACT

# transformers' `hidden_act` -> our `hidden_activation`: the names our
# export writes, and transformers' other names of the tanh form.
ACTIVATIONS = {**{theirs: ours for ours, theirs in HIDDEN_ACT.items()},
               "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu"}


class _Safetensors:
    """keras-hub's safetensors reader (which finds the `bert.` prefix, or
    none) as a context giving `get_tensor`."""

    def __init__(self, path):
        self.loader = SafetensorLoader(path)

    def __enter__(self):
        self.loader.__enter__()
        return self.loader.get_tensor

    def __exit__(self, *exc):
        return self.loader.__exit__(*exc)


def transformers_directory(path, config):
    """The `Source` of the transformers directory `path` whose config.json
    is `config`."""
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
    return bert_config_source(path, config, TRANSFORMERS, ACTIVATIONS, vocabulary_file(path),
                              lambda: _Safetensors(path))
