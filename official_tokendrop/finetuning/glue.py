"""One GLUE fine-tune: train on a task's train split, the official metrics
on each dev split, the test predictions as GLUE's submission files.

    results = run_glue(pretrained, "mrpc", "glue_data/MRPC", "out",
                       learning_rate=2e-5, epochs=3, batch_size=32, seed=0)
    results["validation"]  # {"f1": ..., "accuracy": ...}

Training runs a fixed number of epochs and is scored on dev once at the
end (as Model Garden's `sentence_prediction` and transformers' `run_glue`
do); the learning rate is what a suite picks on dev (`evaluate.py`).
"""

import os
import time

from official_tokendrop.finetuning import training
from official_tokendrop.finetuning.glue_data import read_glue
from official_tokendrop.finetuning.metrics import glue_metrics, task_score
from official_tokendrop.utils.outputs import whole


def _label_text(task, value):
    # 9 significant digits write a float32 score exactly: the metrics of
    # the file equal the run's.
    return f"{value:.9g}" if task.is_regression else task.labels[value]


def submission_rows(task, split, predicted):
    """GLUE's submission lines for `predicted` (class ids or scores):
    `index<TAB>prediction` under a header, labels as the task's files
    write them, scores as float32 holds them. A dev split's rows also carry
    its label, for checking the metrics by hand."""
    labels = [f"\t{label:g}" if task.is_regression else f"\t{label}" for label in split.labels]
    header = "index\tprediction" + ("\tlabel" if labels else "")
    return [header] + [f"{index}\t{_label_text(task, value)}{label}"
                       for index, value, label in zip(split.index, predicted, labels or [""] * len(predicted))]


def write_rows(what, path, rows):
    with whole(what, path) as temporary, open(temporary, "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")


def run_glue(pretrained, task, data_dir, output_dir, *, learning_rate, epochs, batch_size, seed,
             sequence_length=training.SEQUENCE_LENGTH, verbose=2):
    """Fine-tunes `pretrained` (a `Pretrained`) on GLUE task `task` from
    `data_dir` (GLUE's task directory or a TFDS data directory); returns the
    results: the official metrics of each dev split (under its TFDS name,
    `validation` or MNLI's `validation_matched` / `validation_mismatched`),
    the task score (`metrics.task_score`), and the prediction files written
    into `output_dir`: `<split>_predictions.tsv` per dev split (index,
    prediction, label) and GLUE's submission file per test split present.
    The caller seeds Keras."""
    training.check_settings(learning_rate=learning_rate, epochs=epochs, batch_size=batch_size,
                            sequence_length=sequence_length)
    data = read_glue(task, data_dir)
    pretrained.check_sequence_length(sequence_length)
    task, train = data.task, data.splits["train"]
    model = training.build_model(pretrained, None if task.is_regression else len(task.labels), sequence_length,
                                 learning_rate, training.training_steps(len(train), batch_size, epochs))
    start = time.time()
    model.fit(training.dataset(train.texts, data.targets("train"), batch_size, shuffle_seed=seed),
              epochs=epochs, shuffle=False, verbose=verbose)  # the dataset shuffles itself, by `seed`
    results = {
        "task": task.name, "data_dir": data_dir, "preset": pretrained.path, "learning_rate": learning_rate,
        "epochs": epochs, "batch_size": batch_size, "seed": seed, "sequence_length": sequence_length,
        "train_examples": len(train), "train_seconds": round(time.time() - start, 1),
    }
    results["predictions"] = {}
    for split in task.dev_splits + task.test_splits:
        if split not in data.splits:
            continue  # a test split without its file
        predicted = training.predict(model, data.splits[split].texts, batch_size)
        if split in task.dev_splits:
            results[split] = glue_metrics(task.metrics, data.targets(split), predicted)
            what, name = "dev predictions", f"{split}_predictions.tsv"
        else:
            what, name = "GLUE submission file", task.submissions[split]
        path = results["predictions"][split] = os.path.join(output_dir, name)
        write_rows(what, path, submission_rows(task, data.splits[split], predicted))
    results["score"] = task_score({split: results[split] for split in task.dev_splits})
    return results
