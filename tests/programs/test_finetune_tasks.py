"""`finetune --task`: GLUE end to end through the program's main (in
process), its metrics checked against its own prediction files, and the
flags' one-line refusals."""

import json
import os
import re

import numpy as np
import pytest

from conftest import DEMO_SEQ
from flag_runs import run_main
from glue_samples import write_glue
from official_tokendrop import finetune
from official_tokendrop.finetuning.metrics import glue_metrics


def _predictions(path):
    with open(path, encoding="utf-8") as f:
        header, *rows = [line.rstrip("\n").split("\t") for line in f]
    return header, rows


@pytest.mark.slow
def test_glue_classification_and_regression_through_the_program(exported, tmp_path, monkeypatch, capsys):
    preset, _, _ = exported
    glue = write_glue(tmp_path / "glue", ["MRPC", "STS-B"])
    for task, title, metrics in (("mrpc", "MRPC", ("f1", "accuracy")), ("stsb", "STS-B", ("pearson", "spearman"))):
        output = tmp_path / task / "results.json"
        assert run_main(monkeypatch, finetune, preset=preset, task=task, data_dir=os.path.join(glue, title),
                        output=output, epochs=2, batch_size=2, learning_rate=1e-3,
                        sequence_length=DEMO_SEQ) == 0
        results = json.loads(output.read_text())
        assert json.loads(capsys.readouterr().out) == results
        assert results["task"] == task and results["train_examples"] == 2 and set(results["validation"]) == set(metrics)
        # The metrics are the official ones of the dev predictions the run wrote.
        header, rows = _predictions(results["predictions"]["validation"])
        assert header == ["index", "prediction", "label"] and [r[0] for r in rows] == ["0", "1"]
        kind = float if task == "stsb" else int
        truth, predicted = (np.array([kind(r[i]) for r in rows]) for i in (2, 1))
        expected = glue_metrics(metrics, truth, predicted)
        assert results["validation"] == pytest.approx(expected, rel=1e-6)
        assert results["score"] == pytest.approx(np.mean(list(results["validation"].values())))
        # GLUE's submission file, beside --output.
        header, rows = _predictions(tmp_path / task / f"{title}.tsv")
        assert header == ["index", "prediction"] and [r[0] for r in rows] == ["0"]
        assert re.fullmatch(r"[01]" if task == "mrpc" else r"-?\d+(\.\d+)?(e-?\d+)?", rows[0][1])


@pytest.mark.parametrize("values, message", [
    (dict(task="cifar10", data_dir="x"), r"task cifar10 is none of cola, sst2, .*squad1.1, squad2.0"),
    (dict(task="rte"), r"--task=rte needs --data_dir \(GLUE's RTE directory"),
    (dict(task="squad1.1", train_file="t.json"), r"--task=squad1.1 needs --train_file and --predict_file"),
    (dict(task="rte", data_dir="x", train="a.tsv"), r"--task=rte reads its own files; drop --train"),
    (dict(train="a.tsv"), r"Without --task, --train, --validation and --test are needed; --validation, --test "),
])
def test_flags_that_cannot_run_are_one_line(monkeypatch, capsys, values, message):
    assert run_main(monkeypatch, finetune, preset="unread", **values) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("finetune: error: ") and "\n" not in error
    assert re.search(message, error), error


SQUAD = {"version": "1.1", "data": [{"title": "t", "paragraphs": [
    {"context": "The quick brown fox jumped over the lazy dog.",
     "qas": [{"id": "q1", "question": "Who jumped?", "answers": [{"text": "quick brown fox", "answer_start": 4}]}]},
    {"context": "The river runs to the sea in the north.",
     "qas": [{"id": "q2", "question": "Where does it run?", "answers": [{"text": "to the sea", "answer_start": 15}]}]},
]}]}


@pytest.mark.slow
def test_squad_through_the_program(exported, tmp_path, monkeypatch, capsys):
    """--task=squad1.1 reaches `run_squad`; its EM and F1 are the official
    script's on the predictions it wrote."""
    from official.nlp.tools import squad_evaluate_v1_1

    preset, _, _ = exported
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps(SQUAD))
    output = tmp_path / "out" / "results.json"
    assert run_main(monkeypatch, finetune, preset=preset, task="squad1.1", train_file=squad, predict_file=squad,
                    output=output, epochs=1, batch_size=2, learning_rate=1e-3, sequence_length=DEMO_SEQ,
                    doc_stride=8, max_query_length=8) == 0
    capsys.readouterr()
    results = json.loads(output.read_text())
    predictions = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert set(predictions) == {"q1", "q2"}
    official = squad_evaluate_v1_1.evaluate(SQUAD["data"], predictions)  # fractions; results are percent
    assert results["exact_match"] == pytest.approx(100 * official["exact_match"])
    assert results["f1"] == pytest.approx(100 * official["final_f1"])
