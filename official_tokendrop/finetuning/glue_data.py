"""GLUE's nine tasks as their files lay them out, read from GLUE's own
distribution or from a prepared TensorFlow Datasets directory.

    data = read_glue("mrpc", "glue_data/MRPC")
    data.splits["validation"].texts, data.targets("validation")

Layouts (GLUE's `download_glue_data.py` layout, which TFDS' `glue` builder
also reads): `train.tsv`, `dev.tsv`, `test.tsv` per task directory; MNLI's
`dev_matched.tsv` / `dev_mismatched.tsv` and `test_matched.tsv` /
`test_mismatched.tsv`. Each file's header names its columns and the task's
columns are found by name (MNLI's train has 12 columns, its dev files 16);
CoLA's train and dev files have no header: four columns, label second,
sentence fourth. Fields are split on tabs only, never unquoted: MRPC's and
SST-2's texts hold unbalanced `"` characters, which a CSV reader would
join across rows. A test file is optional (GLUE's test labels are hidden;
without one no submission file is written).

Model Garden's GLUE processors (`official.nlp.data.classifier_data_lib`)
are not used: in tf-models-official 2.20 every one of them reads TFDS only
(`tfds.load(..., try_gcs=True)`, ignoring `data_dir`, downloading what is
not there), and its `MnliProcessor` names TFDS' MNLI labels in another
order than TFDS does (accuracy is unaffected, submission labels would be
wrong). TFDS is read here with `download=False`, its label names taken from
the dataset's own features.
"""

import csv
import dataclasses
import io
import math
import os

import numpy as np

from official_tokendrop.data import text_files
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError

BINARY = ("0", "1")
ENTAILMENT = ("entailment", "not_entailment")
SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
MNLI_FILES = {"train": "train.tsv", "validation_matched": "dev_matched.tsv",
              "validation_mismatched": "dev_mismatched.tsv", "test_matched": "test_matched.tsv",
              "test_mismatched": "test_mismatched.tsv"}
STSB_RANGE = (0.0, 5.0)


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """One GLUE task: where its files are, their columns, labels and metrics.

    Args:
        name: the task's name on the command line (`cola`, `mnli`, ...).
        title: GLUE's name of it, also its directory in GLUE's distribution
            (`CoLA`, `MNLI`, ...).
        labels: the label strings its files use, in class-id order; `()`
            for a regression task (STS-B's scores).
        texts: the header names of its one or two text columns.
        label_column: the header name of its label column.
        metrics: its official metrics on dev, as `metrics.glue_metrics`
            names them.
        submissions: GLUE's submission file name for each test split.
        tfds_texts: TFDS' feature names of the text columns.
        files: the file of each split (TFDS' split names).
        headerless: column names of its train and dev files when they have
            no header row (CoLA).
        index_column: the header name of the test files' row index.
    """

    name: str
    title: str
    labels: tuple
    texts: tuple
    label_column: str
    metrics: tuple
    submissions: dict
    tfds_texts: tuple
    files: dict = dataclasses.field(default_factory=lambda: dict(SPLIT_FILES))
    headerless: tuple = ()
    index_column: str = "index"

    @property
    def is_regression(self):
        return not self.labels

    @property
    def dev_splits(self):
        return tuple(s for s in self.files if s.startswith("validation"))

    @property
    def test_splits(self):
        return tuple(self.submissions)


TASKS = {task.name: task for task in (
    GlueTask("cola", "CoLA", BINARY, ("sentence",), "label", ("matthews_corr",), {"test": "CoLA.tsv"},
             ("sentence",), headerless=("source", "label", "original_label", "sentence")),
    GlueTask("sst2", "SST-2", BINARY, ("sentence",), "label", ("accuracy",), {"test": "SST-2.tsv"}, ("sentence",)),
    GlueTask("mrpc", "MRPC", BINARY, ("#1 String", "#2 String"), "Quality", ("f1", "accuracy"), {"test": "MRPC.tsv"},
             ("sentence1", "sentence2")),
    GlueTask("stsb", "STS-B", (), ("sentence1", "sentence2"), "score", ("pearson", "spearman"), {"test": "STS-B.tsv"},
             ("sentence1", "sentence2")),
    GlueTask("qqp", "QQP", BINARY, ("question1", "question2"), "is_duplicate", ("accuracy", "f1"), {"test": "QQP.tsv"},
             ("question1", "question2"), index_column="id"),
    GlueTask("mnli", "MNLI", ("contradiction", "entailment", "neutral"), ("sentence1", "sentence2"), "gold_label",
             ("accuracy",), {"test_matched": "MNLI-m.tsv", "test_mismatched": "MNLI-mm.tsv"},
             ("premise", "hypothesis"), files=dict(MNLI_FILES)),
    GlueTask("qnli", "QNLI", ENTAILMENT, ("question", "sentence"), "label", ("accuracy",), {"test": "QNLI.tsv"},
             ("question", "sentence")),
    GlueTask("rte", "RTE", ENTAILMENT, ("sentence1", "sentence2"), "label", ("accuracy",), {"test": "RTE.tsv"},
             ("sentence1", "sentence2")),
    GlueTask("wnli", "WNLI", BINARY, ("sentence1", "sentence2"), "label", ("accuracy",), {"test": "WNLI.tsv"},
             ("sentence1", "sentence2")),
)}


@dataclasses.dataclass(frozen=True)
class GlueSplit:
    """The rows of one split.

    Args:
        source: where they were read (a file, or a TFDS split), for messages.
        texts: one tuple of strings per text column (one or two columns).
        labels: the label strings (classification) or floats (regression);
            `()` for a test split.
        index: each row's index, GLUE's key in a submission file.
    """

    source: str
    texts: tuple
    labels: tuple
    index: tuple

    def __len__(self):
        return len(self.index)


@dataclasses.dataclass(frozen=True)
class GlueData:
    """A task's splits as read: `splits[name]` for train, each dev split and
    each test split present."""

    task: GlueTask
    location: str
    splits: dict

    def targets(self, split):
        """The labels of `split` as the model's targets: class ids in
        `task.labels` order, or float32 scores."""
        labels = self.splits[split].labels
        if self.task.is_regression:
            return np.asarray(labels, np.float32)
        return np.asarray([self.task.labels.index(label) for label in labels], np.int32)


def task_named(name):
    if name not in TASKS:
        raise ConfigurationError(f"{name} is not a GLUE task; GLUE's are {', '.join(TASKS)}.")
    return TASKS[name]


# === GLUE's files ===
def _rows(path, what):
    """(line number, fields) of each non-blank line, split on tabs only."""
    text = text_files.decode(path, text_files.read_bytes(path, what))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = []
    for fields in reader:
        if any(f.strip() for f in fields):
            rows.append((reader.line_num, fields))
    return rows


def _label(task, path, line, value):
    if not task.is_regression:
        if value not in task.labels:
            raise DataError(f"{path}:{line}: label {value!r} is not one of GLUE {task.name}'s labels "
                            f"{list(task.labels)}.")
        return value
    try:
        score = float(value)
    except ValueError:
        score = math.nan
    if not STSB_RANGE[0] <= score <= STSB_RANGE[1]:
        raise DataError(f"{path}:{line}: score {value!r} is not a number from {STSB_RANGE[0]:g} to "
                        f"{STSB_RANGE[1]:g} (GLUE {task.name}).")
    return score


def _columns(task, path, header, line, needed):
    missing = [c for c in needed if c not in header]
    if missing:
        raise DataError(f"{path}:{line}: the columns ({', '.join(header)}) lack {missing}; this is not GLUE's "
                        f"{task.name} layout (is --data_dir another task's directory?).")
    return [header.index(c) for c in needed]


def read_split_file(task, split, path):
    """The rows of GLUE's file `path` for `split` of `task`; one
    `DataError` naming the file and line for anything that does not fit."""
    rows = _rows(path, f"GLUE {task.name} {split} file")
    if not rows:
        raise DataError(f"{path} holds no examples.")
    test = split in task.test_splits
    if task.headerless and not test:
        header, header_line = task.headerless, rows[0][0]
    else:
        (header_line, header), rows = rows[0], rows[1:]
        if not rows:
            raise DataError(f"{path} holds only a header row, no examples.")
    needed = task.texts + ((task.index_column,) if test else (task.label_column,))
    places = _columns(task, path, tuple(header), header_line, needed)
    texts, labels, index = [[] for _ in task.texts], [], []
    for line, fields in rows:
        if len(fields) != len(header):
            raise DataError(f"{path}:{line}: {len(fields)} tab-separated columns where GLUE's {task.name} "
                            f"{os.path.basename(path)} has {len(header)} ({', '.join(header)}).")
        for column, place in zip(texts, places):
            column.append(fields[place])
        if test:
            index.append(fields[places[-1]])
        else:
            labels.append(_label(task, path, line, fields[places[-1]]))
            index.append(str(len(index)))
    return GlueSplit(path, tuple(map(tuple, texts)), tuple(labels), tuple(index))


def _read_files(task, directory):
    splits = {}
    for split, name in task.files.items():
        path = os.path.join(directory, name)
        if split in task.test_splits and not os.path.exists(path):
            continue  # GLUE's test labels are hidden: only a submission needs it.
        splits[split] = read_split_file(task, split, path)
    return splits


# === A prepared TFDS directory ===
def _tfds_label(task, feature, value):
    if task.is_regression:
        return float(value)
    # TFDS' names where GLUE's files use words (MNLI, QNLI, RTE); its ids
    # are GLUE's 0/1 otherwise.
    return str(int(value)) if task.labels == BINARY else feature.int2str(int(value))


def _read_tfds_split(task, builder, split):
    source = f"TFDS glue/{task.name} {split} in {builder.data_dir}"
    rows = sorted(builder.as_dataset(split=split).as_numpy_iterator(), key=lambda row: int(row["idx"]))
    if not rows:
        raise DataError(f"{source} holds no examples.")
    texts = tuple(tuple(row[name].decode("utf-8") for row in rows) for name in task.tfds_texts)
    feature = builder.info.features["label"]
    labels = () if split in task.test_splits else tuple(
        _tfds_label(task, feature, row["label"]) for row in rows)
    return GlueSplit(source, texts, labels, tuple(str(int(row["idx"])) for row in rows))


def _read_tfds(task, data_dir):
    import tensorflow_datasets as tfds

    builder = tfds.builder(f"glue/{task.name}", data_dir=data_dir)
    if not builder.is_prepared():
        raise MissingFileError(f"{data_dir} holds glue/{task.name} but not the prepared version "
                               f"{builder.version} this tensorflow-datasets reads (nothing is downloaded); "
                               f"prepare it with `tfds build glue/{task.name} --data_dir=...`.")
    missing = [s for s in task.files if s not in builder.info.splits and s not in task.test_splits]
    if missing:
        raise MissingFileError(f"TFDS glue/{task.name} in {data_dir} lacks the splits {missing}.")
    return {split: _read_tfds_split(task, builder, split) for split in task.files if split in builder.info.splits}


def is_tfds_directory(data_dir, task):
    return os.path.isdir(os.path.join(data_dir, "glue", task.name))


def task_directory(glue_dir, name):
    """Where task `name` is under `glue_dir`: GLUE's distribution (one
    directory per task, `glue_dir/MRPC`) or a TFDS data directory."""
    task = task_named(name)
    return glue_dir if is_tfds_directory(glue_dir, task) else os.path.join(glue_dir, task.title)


def check_directory(name, data_dir):
    """`data_dir` holds task `name`'s training data (GLUE's files or a
    TFDS glue/<name>); returns the task. Cheap: nothing is read."""
    task = task_named(name)
    if not os.path.isdir(data_dir):
        state = "is not a directory" if os.path.exists(data_dir) else "does not exist"
        raise MissingFileError(f"GLUE {name} directory {data_dir} {state}.")
    if not is_tfds_directory(data_dir, task) and not os.path.exists(os.path.join(data_dir, task.files["train"])):
        raise MissingFileError(
            f"{data_dir} holds neither GLUE's {task.name} files ({', '.join(task.files.values())}) "
            f"nor a prepared TFDS glue/{task.name}.")
    return task


def read_glue(name, data_dir):
    """`GlueData` of task `name` from `data_dir`: GLUE's task directory, or
    a TFDS data directory holding a prepared `glue/<name>`."""
    task = check_directory(name, data_dir)
    read = _read_tfds if is_tfds_directory(data_dir, task) else _read_files
    return GlueData(task, data_dir, read(task, data_dir))
