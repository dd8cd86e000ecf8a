"""Checks that a released BERT loaded through `task.init_checkpoint` computes,
at step 0, what transformers computes with it: sentence-transformers'
all-MiniLM-L6-v2 (exact GELU, `tokenizer.json` only, no `bert.` prefix).

Two steps, in two environments (PyTorch is not in the project's):

    bash experiments/fetch_minilm.sh /work/minilm/model
    python3 -m venv /work/hfvenv
    /work/hfvenv/bin/pip install torch==2.13.0 transformers safetensors numpy
    /work/hfvenv/bin/python experiments/minilm_reference.py reference \
        --model=/work/minilm/model --output=/tmp/minilm_reference.npz
    .venv/bin/python experiments/minilm_reference.py compare \
        --model=/work/minilm/model --reference=/tmp/minilm_reference.npz

`reference` tokenizes a few sentences with transformers' tokenizer of the
directory and runs its `BertModel`; `compare` builds our pretrainer from the
experiment keys a user sets (`task.init_checkpoint`, `task.vocab_file` =
its tokenizer.json, MiniLM's shapes and `hidden_activation`), initializes
it as the trainer does before step 0, tokenizes the same sentences with
`Vocabulary.tokenizer()` and prints the largest |difference| of the ids and
of the hidden states, for the exact GELU form (the source's) and the tanh
form (what every load gave before the form was a setting).
"""

import argparse
import os
import sys

import numpy as np

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Café owners in Zürich served naïve résumés to the ÉCOLE's jury!",
    "SQLite's write-ahead log (WAL) lets readers proceed while one writer appends pages.",
    "Token dropping skips the unimportant tokens in the middle layers of BERT.",
)
SEQUENCE_LENGTH = 40


def reference(model, output):
    """transformers' ids and hidden states (run in a venv with PyTorch)."""
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    encoded = tokenizer(list(SENTENCES), padding="max_length", max_length=SEQUENCE_LENGTH, truncation=True,
                        return_tensors="pt")
    bert = transformers.BertModel.from_pretrained(model).eval()
    with torch.no_grad():
        outputs = bert(**encoded)
    np.savez(output, input_ids=encoded["input_ids"].numpy(), attention_mask=encoded["attention_mask"].numpy(),
             token_type_ids=encoded["token_type_ids"].numpy(), sequence=outputs.last_hidden_state.numpy(),
             pooled=outputs.pooler_output.numpy(), hidden_act=bert.config.hidden_act,
             versions=f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"wrote {output} ({bert.config.hidden_act}; torch {torch.__version__}, "
          f"transformers {transformers.__version__})", file=sys.stderr)


def _params(model, activation):
    """The experiment a user runs to continue MiniLM (`task.init_checkpoint`,
    its tokenizer.json as `task.vocab_file`, its shapes and GELU form)."""
    from official_tokendrop.core import experiment_configs

    return experiment_configs.experiment("token_drop_bert/pretraining", {"task": {
        "init_checkpoint": model, "vocab_file": os.path.join(model, "tokenizer.json"),
        "model": {"encoder": {"any": {"vocab_size": 30522, "hidden_size": 384, "num_layers": 6,
                                      "num_attention_heads": 12, "intermediate_size": 1536,
                                      "hidden_activation": activation}}}}})


def _continued(model):
    """Our pretrainer of MiniLM's shapes, initialized from `model` as the
    trainer does before step 0 (`train.check_init_checkpoint`'s check, then
    the runner's `initialize_from`); and the same weights in tanh-GELU
    blocks, what every load gave before the form was a setting (the check
    now refuses that model, naming `hidden_activation`)."""
    from official_tokendrop.core.experiment_configs import encoder_arguments
    from official_tokendrop.core.pretrainers import build_pretrainer
    from official_tokendrop.interop.init_checkpoint import check_source, initialize_from

    task = _params(model, "gelu_exact").task
    check_source(task.init_checkpoint, encoder_arguments(task), task.vocab_file)
    exact = build_pretrainer(task)
    report = initialize_from(exact, task.init_checkpoint, task.vocab_file)
    tanh = build_pretrainer(_params(model, "gelu").task)
    tanh.set_weights(exact.get_weights())
    return {"gelu_exact": exact, "gelu": tanh}, report


def compare(model, reference_file):
    from official_tokendrop.data.vocabulary import load_vocabulary

    expected = np.load(reference_file)
    vocab = load_vocabulary(os.path.join(model, "tokenizer.json"))
    preprocess = vocab.tokenizer()
    ours_ids = [np.asarray(preprocess(s)) for s in SENTENCES]
    theirs_ids = [row[1:m.sum() - 1] for row, m in zip(expected["input_ids"], expected["attention_mask"])]
    same = sum(np.array_equal(a, b) for a, b in zip(ours_ids, theirs_ids))
    print(f"tokenization ({vocab.normalisation}): {same} of {len(SENTENCES)} sentences give transformers' ids")
    inputs = {"input_word_ids": expected["input_ids"].astype("int32"),
              "input_mask": expected["attention_mask"].astype("int32"),
              "input_type_ids": expected["token_type_ids"].astype("int32")}
    real = expected["attention_mask"].astype(bool)
    print(f"reference: hidden_act={expected['hidden_act']}, {expected['versions']}")
    pretrainers, report = _continued(model)
    print(report.line())
    for activation, pretrainer in pretrainers.items():
        outputs = pretrainer.encoder(inputs, training=False)
        sequence = np.abs(np.asarray(outputs["sequence_output"]) - expected["sequence"])
        pooled = np.abs(np.asarray(outputs["pooled_output"]) - expected["pooled"])
        print(f"hidden_activation={activation}: max |difference| sequence output {sequence[real].max():.2e} "
              f"(real tokens; {sequence.max():.2e} with padding), pooled output {pooled.max():.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("reference", "compare"))
    parser.add_argument("--model", required=True, help="the unpacked MiniLM directory")
    parser.add_argument("--output", help="reference: the .npz to write")
    parser.add_argument("--reference", help="compare: the .npz `reference` wrote")
    args = parser.parse_args()
    if args.step == "reference":
        reference(args.model, args.output)
    else:
        compare(args.model, args.reference)


if __name__ == "__main__":
    main()
