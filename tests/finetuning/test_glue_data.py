"""GLUE's nine layouts read from GLUE's own files, and the one-line refusals."""

import os

import numpy as np
import pytest

from glue_samples import FILES, write_glue
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError
from official_tokendrop.finetuning.glue import submission_rows
from official_tokendrop.finetuning.glue_data import TASKS, read_glue, task_directory


@pytest.fixture(scope="module")
def glue(tmp_path_factory):
    return write_glue(tmp_path_factory.mktemp("glue"))


def test_every_layout_reads_its_columns_labels_and_test_index(glue):
    expected = {  # task: (train rows, first train texts, first train label, dev splits' sizes, test sizes)
        "cola": (3, ("The sailors rode the breeze clear of the rocks.",), "1", {"validation": 2}, {"test": 2}),
        "sst2": (2, ("it 's a charming and often affecting journey . ",), "1", {"validation": 1}, {"test": 1}),
        "mrpc": (2, ('He called him " the witness , in court .', 'He named him " the witness " .'), "1",
                 {"validation": 2}, {"test": 1}),
        "stsb": (2, ("A plane is taking off.", "An air plane is taking off."), 5.0, {"validation": 2}, {"test": 1}),
        "qqp": (2, ("How do I learn Python?", "What is the best way to learn Python?"), "1", {"validation": 1},
                {"test": 1}),
        "mnli": (3, ("The cat sat on the mat .", "A cat is sitting ."), "entailment",
                 {"validation_matched": 2, "validation_mismatched": 1}, {"test_matched": 1, "test_mismatched": 2}),
        "qnli": (2, ("When did it open?", "The museum opened in 1901."), "entailment", {"validation": 1},
                 {"test": 1}),
        "rte": (2, ("No weapons were found in the city.", "Weapons were found in the city."), "not_entailment",
                {"validation": 1}, {"test": 1}),
        "wnli": (2, ("I put the cake in the box because it was small.", "The cake was small."), "1",
                 {"validation": 1}, {"test": 1}),
    }
    for name, (rows, texts, label, dev, test) in expected.items():
        data = read_glue(name, task_directory(glue, name))
        train = data.splits["train"]
        assert len(train) == rows and len(train.texts) == len(texts), name
        assert tuple(column[0] for column in train.texts) == texts and train.labels[0] == label, name
        assert {s: len(data.splits[s]) for s in data.task.dev_splits} == dev, name
        assert {s: len(data.splits[s]) for s in data.task.test_splits} == test, name
        for split in data.task.test_splits:
            assert data.splits[split].labels == () and data.splits[split].index[0] == "0", name


def test_raw_quotes_targets_and_headerless_cola(glue):
    mrpc = read_glue("mrpc", os.path.join(glue, "MRPC"))
    # A `"` opening a field is a character, not a CSV quote swallowing the next rows.
    assert mrpc.splits["validation"].texts[0] == ('" It is over , he said .', "It rained .")
    np.testing.assert_array_equal(mrpc.targets("validation"), [1, 0])
    mnli = read_glue("mnli", os.path.join(glue, "MNLI"))
    np.testing.assert_array_equal(mnli.targets("train"), [1, 0, 2])  # contradiction, entailment, neutral
    stsb = read_glue("stsb", os.path.join(glue, "STS-B"))
    np.testing.assert_allclose(stsb.targets("validation"), [4.75, 0.0])
    assert stsb.targets("train").dtype == np.float32
    cola = read_glue("cola", os.path.join(glue, "CoLA"))
    assert cola.splits["validation"].texts == (("Him left.", "She left."),)
    assert cola.splits["test"].texts == (("Bill whistled past the house.", "The car honked down the road."),)


def test_submission_rows_use_the_tasks_labels(glue):
    mnli = read_glue("mnli", os.path.join(glue, "MNLI"))
    assert submission_rows(mnli.task, mnli.splits["test_mismatched"], [2, 1]) == [
        "index\tprediction", "0\tneutral", "1\tentailment"]
    stsb = read_glue("stsb", os.path.join(glue, "STS-B"))
    assert submission_rows(stsb.task, stsb.splits["test"], np.array([3.14159], np.float32)) == [
        "index\tprediction", "0\t3.14159012"]
    assert submission_rows(stsb.task, stsb.splits["validation"], np.array([1.5, 0.25], np.float32)) == [
        "index\tprediction\tlabel", "0\t1.5\t4.75", "1\t0.25\t0"]
    assert TASKS["qqp"].submissions == {"test": "QQP.tsv"}
    assert TASKS["mnli"].submissions == {"test_matched": "MNLI-m.tsv", "test_mismatched": "MNLI-mm.tsv"}


def _task_dir(tmp_path, title, **changes):
    """A copy of `title`'s sample directory with files replaced (None: removed)."""
    directory = tmp_path / title
    directory.mkdir()
    for name, text in {**FILES[title], **changes}.items():
        if text is not None:
            (directory / name).write_text(text)
    return str(directory)


def test_bad_directories_are_one_line_naming_file_and_row(tmp_path):
    with pytest.raises(MissingFileError, match=r"GLUE rte directory .*nowhere does not exist"):
        read_glue("rte", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigurationError, match=r"squad is not a GLUE task"):
        read_glue("squad", str(tmp_path))
    rte = _task_dir(tmp_path, "RTE", **{"dev.tsv": None})
    with pytest.raises(MissingFileError, match=r"GLUE rte validation file .*RTE/dev.tsv does not exist"):
        read_glue("rte", rte)
    # Another task's directory: its header lacks this task's columns.
    with pytest.raises(DataError, match=r"RTE/train.tsv:1: the columns \(index, sentence1, sentence2, label\) "
                                        r"lack \['#1 String', '#2 String', 'Quality'\]; this is not GLUE's mrpc"):
        read_glue("mrpc", rte)
    labels = _task_dir(tmp_path, "QNLI", **{"dev.tsv": "index\tquestion\tsentence\tlabel\n0\ta?\tb.\tentailment\n"
                                                      "1\tc?\td.\tneutral\n"})
    with pytest.raises(DataError, match=r"QNLI/dev.tsv:3: label 'neutral' is not one of GLUE qnli's labels "
                                        r"\['entailment', 'not_entailment'\]"):
        read_glue("qnli", labels)
    score = FILES["STS-B"]["train.tsv"].replace("\t0.500\n", "\t7\n")
    with pytest.raises(DataError, match=r"STS-B/train.tsv:3: score '7' is not a number from 0 to 5"):
        read_glue("stsb", _task_dir(tmp_path, "STS-B", **{"train.tsv": score}))
    short = FILES["CoLA"]["train.tsv"] + "gj04\t1\tA sentence without its marker column.\n"
    with pytest.raises(DataError, match=r"CoLA/train.tsv:4: 3 tab-separated columns where GLUE's cola train.tsv "
                                        r"has 4 \(source, label, original_label, sentence\)"):
        read_glue("cola", _task_dir(tmp_path, "CoLA", **{"train.tsv": short}))
    with pytest.raises(DataError, match=r"SST-2/dev.tsv holds only a header row"):
        read_glue("sst2", _task_dir(tmp_path, "SST-2", **{"dev.tsv": "sentence\tlabel\n"}))


def test_a_missing_test_file_writes_no_submission(tmp_path):
    wnli = read_glue("wnli", _task_dir(tmp_path, "WNLI", **{"test.tsv": None}))
    assert set(wnli.splits) == {"train", "validation"}
