"""`task.init_checkpoint`: a pretrainer's starting weights from a BERT
someone else trained.

    report = initialize_from(pretrainer, source, vocab_file=None)
    print(report.line())

`source` is any of (one module each):

- `keras_hub_preset`: a keras-hub BERT preset directory;
- `transformers_directory`: a Hugging Face transformers BERT directory
  (`config.json` + `model.safetensors`; `BertForMaskedLM`'s or
  `BertModel`'s names; `vocab.txt` or `tokenizer.json`);
- `google_checkpoint`: Google's original TensorFlow BERT checkpoint;
- `our_checkpoint`: a checkpoint of this project (weights only).

`formats.read_source` recognises which and returns a `source.Source`: the
architecture (shapes and GELU form, by our encoder's argument names), the
vocabulary it ships (for `data.vocabulary.load_vocabulary`) and a `load()`
that reads the weights. Every source becomes a keras-hub `BertBackbone`
(plus the masked-LM head's arrays where it has a head) which `weights`
copies into our encoder over the layer pairs of
`interop.keras_hub.layer_pairs`, the ones `to_keras_hub` copies out over.

Nothing in `pretrainer` changes unless every check passes
(`initialize.check_source`): the source is recognised, its architecture
equals the model's (each difference named with our experiment key and
both values: the GELU form as `hidden_activation`, e.g. transformers'
`hidden_act: gelu` needs `hidden_activation: gelu_exact`), `vocab_file`
agrees with the source's vocabulary in size and special-token ids, and
every tensor has its shape.
"""

from official_tokendrop.interop.init_checkpoint.formats import read_source
from official_tokendrop.interop.init_checkpoint.initialize import (
    InitReport,
    check_source,
    check_vocabulary,
    initialize_from,
)
from official_tokendrop.interop.init_checkpoint.source import (
    ARCHITECTURE,
    GOOGLE,
    KERAS_HUB,
    OURS,
    TRANSFORMERS,
    Source,
    architecture_of,
    check_fits,
)
from official_tokendrop.interop.init_checkpoint.weights import from_keras_hub

__all__ = [
    "ARCHITECTURE",
    "GOOGLE",
    "InitReport",
    "KERAS_HUB",
    "OURS",
    "Source",
    "TRANSFORMERS",
    "architecture_of",
    "check_fits",
    "check_source",
    "check_vocabulary",
    "from_keras_hub",
    "initialize_from",
    "read_source",
]
