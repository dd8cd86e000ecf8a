"""The study script: its arithmetic by hand, bad input, and a tiny smoke run."""

import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
SCRIPT = "experiments/token_drop_study.py"
SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")
spec = importlib.util.spec_from_file_location("token_drop_study", SCRIPT)
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def test_unigram_cross_entropy_by_hand():
    # Training labels 1, 1, 2 (a weight-0 slot of id 3 counts nothing), vocab 4:
    # add-one smoothing gives p(1) = 3/7, p(2) = 2/7, p(3) = 1/7.
    train_ids, train_weights = np.array([[1, 1, 2, 3]]), np.array([[1.0, 1.0, 1.0, 0.0]])
    eval_ids, eval_weights = np.array([[1, 2, 3, 0]]), np.array([[1.0, 1.0, 1.0, 0.0]])
    expected = -(math.log(3 / 7) + math.log(2 / 7) + math.log(1 / 7)) / 3
    got = study.unigram_cross_entropy(train_ids, train_weights, eval_ids, eval_weights, 4)
    assert abs(got - expected) < 1e-12


def test_first_reach_interpolates_between_evaluations():
    steps, losses = [100, 200, 300], [6.0, 5.0, 4.0]
    assert study.first_reach(steps, losses, 5.5) == 150.0
    assert study.first_reach(steps, losses, 4.0) == 300.0
    assert study.first_reach(steps, losses, 6.5) == 100.0  # reached at the first evaluation
    assert study.first_reach(steps, losses, 3.9) is None
    assert study.first_reach([100, 200, 300, 400], [6.0, 4.5, 5.0, 4.0], 4.75) == 100 + 100 * (1.25 / 1.5)


def _run(*args, timeout=900):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


@pytest.mark.slow
def test_bad_input_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_tasks = tmp_path / "tasks"
    bad_tasks.mkdir()
    for split in ("train", "dev", "test"):
        (bad_tasks / f"wn_supersense.{split}.tsv").write_text("noun.Tops\tan entity\n")
    (bad_tasks / "wn_supersense.dev.tsv").write_text("noun.Tops\tan entity\nonly-a-label\n")
    cases = [
        (["--runs=baseline,tokendrop"], "--runs: unknown run 'tokendrop'"),
        (["--runs=small_dense,baseline"], "small_dense is sized by token_drop's cost; add token_drop"),
        (["--tasks=", f"--corpus_dir={empty}"], f"--corpus_dir {empty} holds no .txt files"),
        (["--tasks=wn_supersense", f"--tasks_dir={bad_tasks}"],
         f"{bad_tasks / 'wn_supersense.dev.tsv'}:2: expected 2 tab-separated columns"),
        (["--steps=0"], "--steps must be at least 1"),
    ]
    for args, message in cases:
        result = _run(f"--work_dir={tmp_path / 'work'}", f"--results_dir={tmp_path / 'results'}", *args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("token_drop_study: error: ") and message in lines[0], lines


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(SHARED), reason="needs ../shared/data")
def test_tiny_study_runs_every_arm_and_reuses_finished_work(tmp_path):
    corpus, tasks = tmp_path / "corpus", tmp_path / "tasks"
    corpus.mkdir()
    tasks.mkdir()
    for name in sorted(os.listdir(os.path.join(SHARED, "corpus"))):
        with open(os.path.join(SHARED, "corpus", name), encoding="utf-8") as f:
            (corpus / name).write_text("".join(f.readline() for _ in range(400)), encoding="utf-8")
    for split in ("train", "dev", "test"):
        with open(os.path.join(SHARED, "tasks", f"wn_supersense.{split}.tsv"), encoding="utf-8") as f:
            lines = f.readlines()
        (tasks / f"wn_supersense.{split}.tsv").write_text("".join(lines[::len(lines) // 120][:120]))
    common = ["--name=smoke", "--scale=tiny", f"--corpus_dir={corpus}", f"--tasks_dir={tasks}",
              f"--work_dir={tmp_path / 'work'}", f"--results_dir={tmp_path / 'results'}",
              "--finetune_seeds=1", "--control_seeds=1", "--evaluations=2"]
    # Every pretraining arm and one variant (schedule: its two stages timed
    # in the same benchmark); then fine-tuning of two arms with a second
    # pretraining seed of the baseline, reusing the rest.
    every = ["--tasks=", "--pretrain_seeds=1", "--runs=" + ",".join(study.ARMS + ("schedule",))]
    result = _run(*common, *every)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    finetuned = ["--runs=baseline,no_pretraining", "--tasks=wn_supersense", "--pretrain_seeds=2"]
    result = _run(*common, *finetuned)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    pretrained = [line.split("] pretraining ")[1].split(":")[0] for line in result.stdout.splitlines()
                  if "] pretraining " in line]
    assert pretrained == ["baseline_seed1"]  # the rest reused
    out = tmp_path / "results" / "smoke"
    assert sorted(os.listdir(out)) == ["commands.txt", "heldout_loss_vs_flops.png",
                                       "heldout_loss_vs_step_seconds.png", "results.json", "results.md"]
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["runs"]) == ["baseline", "no_pretraining"]
    scores = {arm: results["finetune"][arm]["wn_supersense"] for arm in ("baseline", "no_pretraining")}
    assert len(scores["no_pretraining"]["seeds"]) == 1
    assert sorted(scores["baseline"]["by_pretraining_seed"]) == ["0", "1"]
    assert scores["baseline"]["seeds"] == sum(scores["baseline"]["by_pretraining_seed"].values(), [])
    assert scores["baseline"]["mean"] == pytest.approx(np.mean(scores["baseline"]["seeds"]))
    seed1 = results["runs"]["baseline"]["other_seeds"]["1"]
    assert seed1["seed"] == 1 and seed1["curve"][-1][0] == 20 and np.isfinite(seed1["final_heldout_loss"])
    assert seed1["steps_to_baseline_loss"] <= 20  # its own final loss, reached by its last step
    for label in ("baseline", "baseline_seed1"):
        assert os.path.exists(tmp_path / "work" / label / "export" / "config.json")
    commands = (tmp_path / "work" / "commands.log").read_text()
    assert commands.count("official_tokendrop.finetune") == 3
    assert commands.count("official_tokendrop.train") == 6
    assert commands in (out / "commands.txt").read_text()

    # Every arm again, fine-tuning left out: all reused, the numbers checked.
    result = _run(*common, *every)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "work" / "commands.log").read_text() == commands  # nothing ran
    results = json.loads((out / "results.json").read_text())
    runs, seconds = results["runs"], results["benchmark"]["step_seconds"]
    assert sorted(runs) == sorted(study.ARMS + ("schedule",))
    assert runs["baseline"]["steps"] == runs["token_drop"]["steps"] == 20
    # The equal-cost arms run the steps whose step-seconds equal token_drop's.
    td_cost = 20 * seconds["token_drop"]
    assert runs["baseline_equal_cost"]["steps"] == round(td_cost / seconds["baseline"])
    assert runs["small_dense"]["steps"] == round(td_cost / seconds["small_dense"])
    from official_tokendrop.models.flops import step_flops

    s = study.SCALES["tiny"]
    vocab = results["vocab_size"]
    for arm in study.PRETRAINED:
        run = runs[arm]
        keep = s.seq // 2 if arm == "token_drop" else None
        layers = results["small_dense_layers"] if arm == "small_dense" else s.layers
        per_step = step_flops(s.hidden, layers, s.inner, s.seq, vocab, s.predictions, s.batch, keep_k=keep)
        assert run["flops"] == run["steps"] * per_step.training_step
        assert run["train_seconds"] == run["steps"] * run["step_seconds"]
        assert [c[0] for c in run["curve"]][-1] == run["steps"] and len(run["curve"]) == 2
        assert np.isfinite(run["final_heldout_loss"])
    assert results["small_dense_layers"] < s.layers
    assert 0 < results["unigram_heldout_loss"] < math.log(vocab) + 1
    # The baseline reaches its own final loss no later than its last step.
    assert runs["baseline"]["seconds_to_baseline_loss"] <= runs["baseline"]["train_seconds"] + 1e-9

    modes = results["benchmark"]["mode_seconds"]
    assert [len(modes[arm]) for arm in ("baseline", "schedule")] == [1, 2]

    def per(keep):
        return step_flops(s.hidden, s.layers, s.inner, s.seq, vocab, s.predictions, s.batch, keep_k=keep).training_step

    # schedule (tiny: seq 32, 20 steps): keep 8 for steps 0-9, then 16.
    assert runs["schedule"]["flops"] == 10 * per(8) + 10 * per(16)
    assert runs["schedule"]["train_seconds"] == pytest.approx(10 * sum(modes["schedule"]))
    assert runs["schedule"]["keep_k"] == 8 and "own_loss_vs_baseline" in runs["schedule"]
    markdown = (out / "results.md").read_text()
    assert "- schedule (" in markdown and "- best variant: " in markdown


def test_arm_cost_counts_each_step_at_its_mode():
    from official_tokendrop.models.flops import step_flops
    from official_tokendrop.models import TokenDropBertEncoder

    encoder = TokenDropBertEncoder(vocab_size=50, hidden_size=8, num_layers=4, num_attention_heads=2, inner_dim=16,
                                   max_sequence_length=16, token_keep_k=8, token_full_step_every=4,
                                   token_allow_list=(), token_deny_list=())
    cost = study.ArmCost(encoder, [0.25, 1.0], 16, 3, 2)
    # Steps 3 and 7 (0-based) run full: 8 steps = 6 x 0.25 + 2 x 1.0; half
    # of step 8 (dropping) adds 0.125, half of step 7 (full) 0.5.
    assert cost.seconds(8) == 3.5 and cost.seconds(8.5) == 3.625 and cost.seconds(7.5) == 2.5 + 0.5
    drop, full = (step_flops(8, 4, 16, 16, 50, 3, 2, keep_k=k).training_step for k in (8, None))
    assert cost.flops(8) == 6 * drop + 2 * full and cost.flops(7.5) == 6 * drop + full + 0.5 * full
    totals = cost.totals(8)
    assert totals["train_seconds"] == 3.5 and totals["step_seconds"] == 3.5 / 8


def test_reach_baseline_both_ways_by_hand():
    class Linear:  # a constant cost per step
        def __init__(self, seconds, flops):
            self.seconds, self.flops = (lambda s: seconds * s), (lambda s: flops * s)

    baseline = {"curve": [(10, 6.0, 0.0), (20, 5.0, 0.0), (30, 4.5, 0.0)], "final_heldout_loss": 4.5}
    base_cost, cost = Linear(1.0, 4.0), Linear(0.5, 3.0)
    # Never reaches 4.5; the baseline reaches its 5.25 a quarter of the way
    # from step 20 back to 10 (6.0 -> 5.0): step 17.5. It spent 30 x 0.5 s
    # and 30 x 3 FLOPs, the baseline 17.5 x 1 s and 17.5 x 4 FLOPs.
    slow = {"curve": [(10, 6.5, 0.0), (20, 5.5, 0.0), (30, 5.25, 0.0)], "final_heldout_loss": 5.25}
    study.reach_baseline(slow, baseline, cost, base_cost)
    assert slow["steps_to_baseline_loss"] is None and slow["seconds_to_baseline_loss"] is None
    assert slow["baseline_steps_to_own_loss"] == 17.5
    assert slow["own_loss_vs_baseline"] == {"seconds": pytest.approx(15 / 17.5), "flops": pytest.approx(90 / 70)}
    # Reaches 4.5 halfway between steps 10 and 20; ends below the baseline,
    # whose curve never gets that low.
    fast = {"curve": [(10, 5.0, 0.0), (20, 4.0, 0.0)], "final_heldout_loss": 4.0}
    study.reach_baseline(fast, baseline, cost, base_cost)
    assert fast["steps_to_baseline_loss"] == 15.0
    assert fast["seconds_to_baseline_loss"] == 7.5 and fast["flops_to_baseline_loss"] == 45.0
    assert fast["baseline_steps_to_own_loss"] is None and fast["own_loss_vs_baseline"] is None
