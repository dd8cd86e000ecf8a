"""The study's interleaved benchmark: every training mode of every timed
model and every table warm-up, measured once and then reused."""

import json
import os

import pytest

from experiments.study.arms import SCALES
from experiments.study.benchmark import benchmark, timed_arms
from experiments.study.configs import Configs
from experiments.study.corpora import Corpora
from experiments.study.stages import Stages

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "data")
RUNS = ["schedule", "general", "continued_dense", "continued_token_drop_warm"]


def test_the_timed_models_and_warmups_of_the_runs():
    # general takes continued_dense's seconds, the warm continuation those of
    # continued_token_drop's model, which runs only in the benchmark.
    assert timed_arms(["no_pretraining"] + RUNS) == (
        ["schedule", "continued_dense", "continued_token_drop"], ["continued_token_drop_warm"])


@pytest.mark.slow  # builds three trainers on TFRecords it converts
@pytest.mark.skipif(not os.path.isdir(SHARED), reason="needs ../shared/data")
def test_benchmark_times_each_mode_and_warmup_once(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in sorted(os.listdir(os.path.join(SHARED, "corpus"))):
        with open(os.path.join(SHARED, "corpus", name), encoding="utf-8") as f:
            (corpus / name).write_text("".join(f.readline() for _ in range(200)), encoding="utf-8")
    stages, scale, lines = Stages(str(tmp_path / "work")), SCALES["tiny"], []
    corpora = Corpora(stages, scale, seed=0).prepare(RUNS, sorted(str(f) for f in corpus.iterdir()), "sqlite_docs.txt")
    configs = Configs(scale, corpora, stages.work, seed=0, evaluations=2)
    path = str(tmp_path / "step_seconds.json")
    measured = benchmark(configs, RUNS, path, lines.append)
    # schedule: keep 8, then 16 from step 10 (two modes); a warm-up batch of
    # the warm continuation's model.
    assert {arm: len(seconds) for arm, seconds in measured["mode_seconds"].items()} == {
        "schedule": 2, "continued_dense": 1, "continued_token_drop": 1}
    assert list(measured["rounds"]) == ["schedule", "schedule[mode 1]", "continued_dense", "continued_token_drop",
                                        "continued_token_drop_warm[table warm-up]"]
    assert all(len(r) == scale.bench_rounds for r in measured["rounds"].values())
    assert measured["step_seconds"]["schedule"] == measured["mode_seconds"]["schedule"][0] > 0
    assert measured["warmup_seconds"]["continued_token_drop_warm"] > 0
    assert [line.split(":")[0] for line in lines] == ["benchmark round 1/2", "benchmark round 2/2"]
    with open(path) as f:
        assert json.load(f) == measured
    # A rerun with these arms (or fewer) reads the file; nothing is timed again.
    assert benchmark(configs, RUNS[1:], path, lines.append) == measured and len(lines) == 2
