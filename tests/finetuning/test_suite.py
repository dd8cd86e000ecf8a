"""The suite's learning-rate pick, medians over seeds, GLUE average and table."""

import pytest

from official_tokendrop.finetuning.suite import glue_average, markdown, run_directory, summarize


def _mrpc(f1, accuracy):
    return {"validation": {"f1": f1, "accuracy": accuracy}}


def _mnli(matched, mismatched):
    return {"validation_matched": {"accuracy": matched}, "validation_mismatched": {"accuracy": mismatched}}


def test_the_rate_is_picked_by_median_score_and_metrics_are_medians():
    runs = {
        # scores (percent) 85, 70, 90: median 85
        2e-5: [_mrpc(0.9, 0.8), _mrpc(0.8, 0.6), _mrpc(0.95, 0.85)],
        # scores 95, 50, 60: median 60 (the best single run does not decide)
        5e-5: [_mrpc(1.0, 0.9), _mrpc(0.5, 0.5), _mrpc(0.6, 0.6)],
    }
    summary = summarize("mrpc", runs)
    assert summary["learning_rate"] == 2e-5 and summary["seeds"] == 3
    assert summary["dev"] == {"validation": {"f1": pytest.approx(90.0), "accuracy": pytest.approx(80.0)}}
    assert summary["score"] == pytest.approx(85.0)
    assert summary["median_score_by_learning_rate"] == {"2e-05": pytest.approx(85.0), "5e-05": pytest.approx(60.0)}
    tie = summarize("rte", {5e-5: [{"validation": {"accuracy": 0.5}}], 1e-5: [{"validation": {"accuracy": 0.5}}]})
    assert tie["learning_rate"] == 1e-5


def test_squad_results_are_percent_already_and_stay_out_of_the_glue_average():
    squad = summarize("squad1.1", {3e-5: [{"exact_match": 70.0, "f1": 80.0}, {"exact_match": 72.0, "f1": 79.0}]})
    assert squad["dev"] == {"validation": {"exact_match": 71.0, "f1": 79.5}}
    mnli = summarize("mnli", {2e-5: [_mnli(0.8, 0.7)]})
    mrpc = summarize("mrpc", {2e-5: [_mrpc(0.9, 0.8)]})
    summaries = {"squad1.1": squad, "mrpc": mrpc, "mnli": mnli}
    assert glue_average(summaries) == pytest.approx((75.0 + 85.0) / 2)
    assert glue_average({"squad1.1": squad}) is None
    table = markdown("runs/x", summaries).splitlines()
    assert table[0] == "| model | MRPC (F1/acc) | MNLI-m/mm (acc) | GLUE avg | SQuAD v1.1 (EM/F1) |"
    assert table[2] == "| runs/x | 90.0/80.0 | 80.0/70.0 | 80.0 | 71.0/79.5 |"
    assert "- mrpc: learning rate 2e-05, 1 seeds; median score by rate: 2e-05: 85.0" in table


def test_run_directories_name_task_rate_and_seed():
    assert run_directory("out", "rte", 3e-5, 2) == "out/runs/rte/lr_3e-05/seed_2"
