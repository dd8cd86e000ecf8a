"""Fine-tunes a pretrained BERT on a GLUE task, SQuAD, or a TSV
classification task.

    python -m official_tokendrop.finetune --preset=bert_preset \
        --task=mrpc --data_dir=glue_data/MRPC --output=results.json
    python -m official_tokendrop.finetune --preset=bert_preset \
        --task=squad1.1 --train_file=train-v1.1.json --predict_file=dev-v1.1.json --output=results.json
    python -m official_tokendrop.finetune --preset=bert_preset \
        --train=train.tsv --validation=dev.tsv --test=test.tsv --output=results.json

`--preset` is any BERT `finetuning.pretrained.load_pretrained` reads. GLUE
(`--task` one of cola sst2 mrpc stsb qqp mnli qnli rte wnli): GLUE's task
directory or a prepared TFDS data directory (`finetuning.glue_data`), the
official dev metrics, and GLUE's submission files for the test split
written beside `--output` (or into `--output_dir`). SQuAD (`--task`
squad1.1 or squad2.0): `finetuning.squad.run_squad`. Without `--task`: each
TSV line is `label<TAB>text[<TAB>text_b]` (`data.task_rows`), trained with
early stopping on validation accuracy, scored with accuracy and macro-F1.
"""

import contextlib
import json
import os
import sys
import time

from official_tokendrop import cli  # noqa: E402,F401  (quiets TensorFlow before it loads)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from official_tokendrop.cli import one_line_errors  # noqa: E402
from official_tokendrop.data.task_rows import class_names, read_task_file  # noqa: E402
from official_tokendrop.errors import ConfigurationError, DataError, OutputExistsError  # noqa: E402
from official_tokendrop.finetuning import training  # noqa: E402
from official_tokendrop.finetuning.glue import run_glue  # noqa: E402
from official_tokendrop.finetuning.glue_data import TASKS as GLUE_TASKS, check_directory  # noqa: E402
from official_tokendrop.finetuning.pretrained import load_pretrained  # noqa: E402
from official_tokendrop.utils.outputs import whole, writing  # noqa: E402

SQUAD_TASKS = {"squad1.1": "1.1", "squad2.0": "2.0"}
TASK_NAMES = tuple(GLUE_TASKS) + tuple(SQUAD_TASKS)


# === A TSV classification task (no --task) ===
def label_ids(split, vocabulary):
    ids = []
    for index, label in enumerate(split.labels):
        if label not in vocabulary:
            raise DataError(
                f"{split.path}: example {index + 1} has label {label!r}, which the "
                f"training data never uses (known: {sorted(vocabulary)[:10]}...)."
            )
        ids.append(vocabulary[label])
    return np.array(ids, np.int32)


def macro_f1(truth, predicted, num_classes):
    scores = []
    for c in range(num_classes):
        tp = np.sum((predicted == c) & (truth == c))
        fp = np.sum((predicted == c) & (truth != c))
        fn = np.sum((predicted != c) & (truth == c))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def read_splits(train, validation, test):
    """The three splits, the training labels in class-id order and each
    split's label ids; refuses mixed widths and a single training class."""
    splits = {name: read_task_file(path)
              for name, path in (("train", train), ("validation", validation), ("test", test))}
    widths = {name: bool(s.text_pairs) for name, s in splits.items()}
    if len(set(widths.values())) != 1:
        raise DataError(f"Splits mix single sentences and pairs: {widths}.")
    names = class_names(splits["train"].labels)
    if len(names) < 2:
        raise DataError(f"{train}: every training example has the label {names[0]!r}; "
                         "a classifier needs at least two classes.")
    vocabulary = {label: i for i, label in enumerate(names)}
    ids = {name: label_ids(s, vocabulary) for name, s in splits.items()}
    return splits, names, ids


def _columns(split):
    return (split.texts, split.text_pairs) if split.text_pairs else (split.texts,)


def finetune(preset, train, validation, test, epochs=3, batch_size=32, learning_rate=5e-5,
             sequence_length=training.SEQUENCE_LENGTH, seed=0, patience=2, warmup_fraction=0.1, verbose=2):
    """Trains, early-stops on validation accuracy, scores the test split.

    `seed` orders the training data; the classifier head's initialisation
    and dropout follow Keras' global seed, which the program sets
    (`keras.utils.set_random_seed`, as `main` does).
    """
    pretrained = load_pretrained(preset)
    splits, names, ids = read_splits(train, validation, test)
    pretrained.check_sequence_length(sequence_length)
    steps = training.training_steps(len(splits["train"]), batch_size, epochs)
    model = training.build_model(pretrained, len(names), sequence_length, learning_rate, steps, warmup_fraction)

    def dataset(name, shuffle=False):
        return training.dataset(_columns(splits[name]), ids[name], batch_size, seed if shuffle else None)

    start = time.time()
    history = model.fit(
        dataset("train", shuffle=True),
        validation_data=dataset("validation"),
        epochs=epochs,
        shuffle=False,  # the dataset shuffles itself, by `seed`
        callbacks=[keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True
        )],
        verbose=verbose,
    )
    results = {
        "preset": preset, "labels": names, "num_classes": len(names), "seed": seed,
        "train_examples": len(splits["train"]), "epochs_run": len(history.history["loss"]),
        "train_seconds": time.time() - start,
        "majority_baseline": float(np.mean(ids["test"] == np.bincount(ids["train"]).argmax())),
    }
    for name in ("validation", "test"):
        predicted = training.predict(model, _columns(splits[name]), batch_size)
        results[name] = {
            "accuracy": float(np.mean(predicted == ids[name])),
            "macro_f1": macro_f1(ids[name], predicted, len(names)),
            "examples": len(splits[name]),
        }
    return results


# === A GLUE or SQuAD task (--task) ===
def check_task_name(task):
    if task not in TASK_NAMES:
        raise ConfigurationError(f"task {task} is none of {', '.join(TASK_NAMES)}.")


def check_task(task, data_dir=None, train_file=None, predict_file=None):
    """`task` is known and the inputs it needs are named; one line otherwise."""
    check_task_name(task)
    if task in SQUAD_TASKS and not (train_file and predict_file):
        raise ConfigurationError(f"--task={task} needs --train_file and --predict_file (SQuAD's JSON files).")
    if task in GLUE_TASKS and not data_dir:
        raise ConfigurationError(f"--task={task} needs --data_dir (GLUE's {GLUE_TASKS[task].title} directory "
                                 f"or a TFDS data directory holding glue/{task}).")


def run_task(pretrained, task, output_dir, *, learning_rate, epochs, batch_size, seed, sequence_length=None,
             data_dir=None, train_file=None, predict_file=None, verbose=2, **squad_options):
    """Seeds Keras with `seed` and fine-tunes `pretrained` (a `Pretrained`)
    on one GLUE or SQuAD task; returns its results. Predictions go into
    `output_dir`. `sequence_length` None is the task's default (GLUE 128,
    SQuAD 384); `squad_options` are `run_squad`'s window and answer options.
    """
    check_task(task, data_dir, train_file, predict_file)
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise OutputExistsError(f"The output directory {output_dir} is a file.")
    # The program's seed (heads, dropout, shuffling), set once per fine-tune.
    keras.utils.set_random_seed(seed)
    with writing("output directory", output_dir):
        os.makedirs(output_dir, exist_ok=True)
    options = dict(learning_rate=learning_rate, epochs=epochs, batch_size=batch_size, seed=seed)
    if sequence_length is not None:
        options["sequence_length"] = sequence_length
    if task in SQUAD_TASKS:
        from official_tokendrop.finetuning.squad import run_squad

        return run_squad(pretrained, SQUAD_TASKS[task], train_file, predict_file, output_dir,
                         **options, **squad_options)
    return run_glue(pretrained, task, data_dir, output_dir, verbose=verbose, **options)


def write_json(path, value, what="results"):
    """`value` as JSON at `path`, whole or not at all."""
    with writing(what, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with whole(what, path) as temporary, open(temporary, "w", encoding="utf-8") as f:
        f.write(json.dumps(value, indent=2) + "\n")


FLAGS = flags.FLAGS


def _given(**values):
    return {name: value for name, value in values.items() if value is not None}


def _run_flags(values):
    if values.task:
        generic = [name for name in ("train", "validation", "test") if values[name].value]
        if generic:
            raise ConfigurationError(f"--task={values.task} reads its own files; drop --{', --'.join(generic)}.")
        output_dir = values.output_dir or os.path.dirname(os.path.abspath(values.output or "results.json"))
        squad = _given(doc_stride=values.doc_stride, max_query_length=values.max_query_length,
                       max_answer_length=values.max_answer_length, n_best_size=values.n_best_size)
        check_task(values.task, values.data_dir, values.train_file, values.predict_file)
        if values.task in GLUE_TASKS:
            check_directory(values.task, values.data_dir)  # before the preset is read
        return run_task(load_pretrained(values.preset), values.task, output_dir,
                        learning_rate=values.learning_rate, epochs=values.epochs, batch_size=values.batch_size,
                        seed=values.seed, sequence_length=values.sequence_length, data_dir=values.data_dir,
                        train_file=values.train_file, predict_file=values.predict_file, **squad)
    missing = [name for name in ("train", "validation", "test") if not values[name].value]
    if missing:
        raise ConfigurationError(f"Without --task, --train, --validation and --test are needed; "
                                 f"--{', --'.join(missing)} missing.")
    # The program's seed (classifier head, dropout), set once here.
    keras.utils.set_random_seed(values.seed)
    return finetune(values.preset, values.train, values.validation, values.test, values.epochs, values.batch_size,
                    values.learning_rate, seed=values.seed, **_given(sequence_length=values.sequence_length))


@one_line_errors("finetune")
def main(argv):
    del argv
    # Keras' progress lines go to stderr: stdout is the results' JSON.
    with contextlib.redirect_stdout(sys.stderr):
        results = _run_flags(FLAGS)
    if FLAGS.output:
        write_json(FLAGS.output, results)
    print(json.dumps(results, indent=2))


def define_flags(flag_values=flags.FLAGS):
    """The program's flags, on `flag_values` (tests pass their own)."""
    values = dict(flag_values=flag_values)
    flags.DEFINE_string("preset", None, "Any BERT: keras-hub preset, transformers directory, checkpoint.", **values)
    flags.DEFINE_string("task", None, f"One of {', '.join(TASK_NAMES)}; without it, --train/--validation/--test.",
                        **values)
    flags.DEFINE_string("data_dir", None, "GLUE: the task's directory, or a TFDS data directory.", **values)
    flags.DEFINE_string("train_file", None, "SQuAD: the training JSON.", **values)
    flags.DEFINE_string("predict_file", None, "SQuAD: the dev JSON (scored).", **values)
    flags.DEFINE_string("train", None, "Training TSV.", **values)
    flags.DEFINE_string("validation", None, "Validation TSV (early stopping).", **values)
    flags.DEFINE_string("test", None, "Test TSV.", **values)
    flags.DEFINE_string("output", None, "Where to write the results JSON.", **values)
    flags.DEFINE_string("output_dir", None, "GLUE submission files, SQuAD predictions (default: beside --output).",
                        **values)
    flags.DEFINE_integer("epochs", 3, "Epochs (the most, with early stopping).", **values)
    flags.DEFINE_integer("batch_size", 32, "Batch size.", **values)
    flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.", **values)
    flags.DEFINE_integer("sequence_length", None, "Tokens per example (default: 128; SQuAD 384).", **values)
    flags.DEFINE_integer("seed", 0, "Random seed.", **values)
    flags.DEFINE_integer("doc_stride", None, "SQuAD: tokens between window starts.", **values)
    flags.DEFINE_integer("max_query_length", None, "SQuAD: question tokens kept.", **values)
    flags.DEFINE_integer("max_answer_length", None, "SQuAD: longest answer in tokens.", **values)
    flags.DEFINE_integer("n_best_size", None, "SQuAD: candidate spans per question.", **values)
    flags.mark_flags_as_required(["preset"], flag_values=flag_values)


if __name__ == "__main__":
    define_flags()
    app.run(lambda argv: sys.exit(main(argv)))
