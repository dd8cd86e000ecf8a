"""Turning a token-dropping pretraining run into an ordinary keras-hub BERT.

    python -m official_tokendrop.export --model_dir=runs/demo --output=bert_preset

writes a keras-hub preset directory (backbone config and weights, the
WordPiece vocabulary as the tokenizer asset, and the masked-LM task) that
`keras_hub.models.BertBackbone.from_preset`, `BertTextClassifier.from_preset`
and `BertMaskedLM.from_preset` load offline. `--format=transformers` writes
a Hugging Face BERT directory instead (`interop/transformers.py`).

The vocabulary (`--vocab_file`, default `task.vocab_file`: a vocab.txt, a
transformers tokenizer.json or a model directory) is written in each
format's own form, with the lower-casing and accent stripping it records,
so the exported tokenizer splits text as pretraining did. Each format
holds what it can: transformers' `hidden_act` names either GELU form;
keras-hub's `BertBackbone` computes only the tanh form, so exporting a
`hidden_activation: gelu_exact` model there warns with the size of the
difference.
"""

import os
import sys

from official_tokendrop import cli  # noqa: E402,F401  (quiets TensorFlow before it loads)

from absl import app, flags  # noqa: E402

from official_tokendrop.cli import one_line_errors  # noqa: E402
from official_tokendrop.core.pretrainers import restore_pretrainer  # noqa: E402
from official_tokendrop.errors import ConfigurationError, OutputExistsError  # noqa: E402
from official_tokendrop.interop.transformers import write_transformers  # noqa: E402
# Re-exported: users' code imports these from here.
from official_tokendrop.interop.keras_hub import to_keras_hub, to_keras_hub_masked_lm  # noqa: E402,F401
from official_tokendrop.interop.keras_hub import write_preset  # noqa: E402


FORMATS = ("keras_hub", "transformers")


def export(model_dir, output, vocab_file=None, lowercase=None, format="keras_hub", overwrite=False):
    """Writes `model_dir`'s latest checkpoint to `output` in `format`;
    `lowercase` replaces the vocabulary's lower-casing where it is not
    None."""
    if format not in FORMATS:
        raise ConfigurationError(f"unknown format {format!r}; choose from {', '.join(FORMATS)}.")
    if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)):
        if not overwrite:
            raise OutputExistsError(f"{output} already exists; pass --overwrite to replace it.")
    pretrainer, params, vocab_file, checkpoint = restore_pretrainer(model_dir, vocab_file)
    write = write_transformers if format == "transformers" else write_preset
    write(pretrainer, vocab_file, output, params.task.train_data.seq_length, lowercase)
    return checkpoint


FLAGS = flags.FLAGS


@one_line_errors("export")
def main(argv):
    del argv
    checkpoint = export(FLAGS.model_dir, FLAGS.output, FLAGS.vocab_file, FLAGS.do_lower_case,
                        FLAGS.format, FLAGS.overwrite)
    print(f"exported {checkpoint} -> {FLAGS.output} ({FLAGS.format})", file=sys.stderr)


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Training model_dir (params.yaml + checkpoints).")
    flags.DEFINE_string("output", None, "Directory to write.")
    flags.DEFINE_string("vocab_file", None, "Vocabulary: vocab.txt, tokenizer.json or a model directory "
                        "(default: task.vocab_file).")
    flags.DEFINE_bool("do_lower_case", None, "Tokenizer lower-cases (uncased vocabulary); default: as the "
                      "vocabulary records (lower-case where it records nothing).")
    flags.DEFINE_enum("format", "keras_hub", FORMATS,
                      "keras_hub: a keras-hub preset; transformers: a Hugging Face BERT directory.")
    flags.DEFINE_bool("overwrite", False, "Replace an existing, non-empty --output.")
    flags.mark_flags_as_required(["model_dir", "output"])
    app.run(lambda argv: sys.exit(main(argv)))
