"""`evaluate`: tasks x learning rates x seeds, the pick on dev, the tables,
the skip on a rerun, and its one-line refusals."""

import json
import re

import pytest

from conftest import DEMO_SEQ
from flag_runs import run_main
from glue_samples import write_glue
from official_tokendrop import evaluate, finetune


@pytest.mark.slow
def test_a_suite_runs_picks_on_dev_and_skips_finished_runs(exported, tmp_path, monkeypatch, capsys):
    preset, _, _ = exported
    glue = write_glue(tmp_path / "glue", ["RTE"])
    output = tmp_path / "suite"
    flags = dict(preset=preset, glue_dir=glue, tasks="rte", learning_rates="1e-3,1e-4", seeds="0,1",
                 epochs=1, batch_size=2, sequence_length=DEMO_SEQ, output_dir=output)
    assert run_main(monkeypatch, evaluate, **flags) == 0
    captured = capsys.readouterr()
    progress = [line for line in captured.err.splitlines() if line.startswith("evaluate: run ")]
    assert len(progress) == 4 and all(re.search(r"\| elapsed \S+ \| ETA \S+$", line) for line in progress)
    assert progress[0].startswith("evaluate: run 1/4 rte lr=0.001 seed=0: score ")
    report = json.loads((output / "results.json").read_text())
    runs = {rate: [json.loads((output / "runs" / "rte" / f"lr_{rate}" / f"seed_{seed}" / "results.json").read_text())
                   for seed in (0, 1)] for rate in ("0.001", "0.0001")}
    # RTE's dev split has one example: each run is right (100) or wrong (0).
    medians = {rate: sorted(100 * r["validation"]["accuracy"] for r in group) for rate, group in runs.items()}
    medians = {rate: (a + b) / 2 for rate, (a, b) in medians.items()}
    summary = report["tasks"]["rte"]
    assert summary["median_score_by_learning_rate"] == {"0.001": medians["0.001"], "0.0001": medians["0.0001"]}
    picked = "0.0001" if medians["0.0001"] >= medians["0.001"] else "0.001"  # a tie: the smaller rate
    assert summary["learning_rate"] == float(picked) and summary["dev"]["validation"]["accuracy"] == medians[picked]
    assert report["glue_average"] == summary["score"] == medians[picked]
    table = (output / "results.md").read_text().splitlines()
    assert table[0] == "| model | RTE (acc) | GLUE avg |" and captured.out.startswith(table[0])
    assert table[2] == f"| {preset} | {medians[picked]:.1f} | {medians[picked]:.1f} |"

    # A rerun trains nothing and reports the same.
    monkeypatch.setattr(finetune, "run_task", lambda *a, **k: pytest.fail("a finished run ran again"))
    assert run_main(monkeypatch, evaluate, **flags) == 0
    assert "evaluate: 4 runs, 4 finished before" in capsys.readouterr().err
    assert json.loads((output / "results.json").read_text()) == report
    # Other settings into the same directory are refused.
    assert run_main(monkeypatch, evaluate, **{**flags, "epochs": 2}) == 1
    assert re.search(r"holds runs with other settings: epochs=2 \(was 1\); use another --output_dir",
                     capsys.readouterr().err)


@pytest.mark.parametrize("values, message", [
    (dict(), r"Nothing to run: give --glue_dir and/or --squad_dir"),
    (dict(tasks="rte"), r"--tasks has rte: it needs --glue_dir"),
    (dict(glue_dir="GLUE", tasks="rte,imdb"), r"task imdb is none of"),
    (dict(squad_dir="SQUAD", tasks="squad2.0"), r"squad2.0: .*SQUAD/train-v2.0.json does not exist"),
    (dict(glue_dir="GLUE", tasks="mrpc"), r"GLUE mrpc directory .*GLUE/MRPC does not exist"),
    (dict(glue_dir="GLUE", tasks="rte", seeds="0,x"), r"--learning_rates are numbers and --seeds integers"),
])
def test_suites_that_cannot_run_are_one_line(tmp_path, monkeypatch, capsys, values, message):
    values = {k: str(tmp_path / v) if k.endswith("_dir") else v for k, v in values.items()}
    write_glue(tmp_path / "GLUE", ["RTE"])
    assert run_main(monkeypatch, evaluate, preset="unread", output_dir=tmp_path / "out", **values) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("evaluate: error: ") and "\n" not in error and re.search(message, error), error
    assert not (tmp_path / "out").exists()
