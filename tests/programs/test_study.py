"""The study script: its arithmetic by hand, bad input, and a tiny smoke run."""

import importlib.util
import json
import logging
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
    # Every pretraining arm, one variant (schedule: its two stages timed in
    # the same benchmark) and general with the dense and the warm-table
    # continuations (the others' sizes and goal lines are the pure tests');
    # then fine-tuning of two arms with a second pretraining seed of the
    # baseline, reusing the rest.
    continued = ("general", "continued_dense", "continued_token_drop_warm")
    every = ["--tasks=", "--pretrain_seeds=1", "--runs=" + ",".join(study.ARMS + ("schedule",) + continued)]
    result = _run(*common, *every)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    finetuned = ["--runs=baseline,no_pretraining", "--tasks=wn_supersense", "--pretrain_seeds=2"]
    result = _run(*common, *finetuned)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    pretrained = [line.split("] pretraining ")[1].split(":")[0] for line in result.stdout.splitlines()
                  if "] pretraining " in line]
    assert pretrained == ["baseline_seed1"]  # the rest reused
    out = tmp_path / "results" / "smoke"
    assert sorted(os.listdir(out)) == ["commands.txt", "domain_heldout_loss_vs_flops.png",
                                       "domain_heldout_loss_vs_step_seconds.png", "heldout_loss_vs_flops.png",
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
    assert commands.count("official_tokendrop.train") == 9
    assert commands in (out / "commands.txt").read_text()

    # Every arm again, fine-tuning left out: all reused, the numbers checked.
    result = _run(*common, *every)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "work" / "commands.log").read_text() == commands  # nothing ran
    results = json.loads((out / "results.json").read_text())
    runs, seconds = results["runs"], results["benchmark"]["step_seconds"]
    assert sorted(runs) == sorted(study.ARMS + ("schedule",) + continued)
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

    # general: the corpus without the domain file, a vocabulary of its own,
    # which the domain's TFRecords use; the continuations start from its
    # model_dir through task.init_checkpoint, the warm one after 2 batches
    # of table warm-up (forward passes) whose cost it carries.
    corpora = results["corpora"]
    assert corpora["general"]["files"] == [f for f in corpora["corpus"]["files"] if f != "sqlite_docs.txt"]
    assert corpora["domain"]["files"] == ["sqlite_docs.txt"] and corpora["domain"]["heldout_every"] == 10
    assert corpora["domain"]["vocab"] == corpora["general"]["vocab"] != corpora["corpus"]["vocab"]
    general_vocab = corpora["general"]["vocab_size"]
    for arm in continued[1:]:
        params = (tmp_path / "work" / arm / "params.yaml").read_text()
        assert f"init_checkpoint: {tmp_path / 'work' / 'general'}" in params
        assert runs[arm]["steps"] == s.continue_steps and runs[arm]["reference"] == "continued_dense"
    warm = runs["continued_token_drop_warm"]
    forward, per_step = (step_flops(s.hidden, s.layers, s.inner, s.seq, general_vocab, s.predictions, s.batch,
                                    keep_k=keep) for keep in (None, s.seq // 2))
    assert warm["table_warmup_steps"] == s.table_warmup_steps == 2 and warm["table_warmup_flops"] == 2 * forward.forward
    assert warm["flops"] == 6 * per_step.training_step + 2 * forward.forward
    warm_seconds = results["benchmark"]["warmup_seconds"]["continued_token_drop_warm"]
    assert warm["step_seconds"] == seconds["continued_token_drop"]  # its model's, timed as such
    assert warm["train_seconds"] == pytest.approx(6 * seconds["continued_token_drop"] + 2 * warm_seconds)
    assert runs["general"]["step_seconds"] == seconds["continued_dense"] and "reference" not in runs["general"]
    assert "## Continued pretraining on sqlite_docs.txt" in markdown and "| continued_token_drop_warm | 6 |" in markdown


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


def test_arm_cost_counts_the_table_warmup_before_step_0():
    from official_tokendrop.models.flops import step_flops
    from official_tokendrop.models import TokenDropBertEncoder

    encoder = TokenDropBertEncoder(vocab_size=50, hidden_size=8, num_layers=4, num_attention_heads=2, inner_dim=16,
                                   max_sequence_length=16, token_keep_k=8, token_allow_list=(), token_deny_list=())
    cost = study.ArmCost(encoder, [0.25], 16, 3, 2, warmup_steps=3, warmup_seconds=0.1)
    # Three forward passes of the full encoder (no backward), then steps.
    forward = step_flops(8, 4, 16, 16, 50, 3, 2).forward
    drop = step_flops(8, 4, 16, 16, 50, 3, 2, keep_k=8).training_step
    assert cost.seconds(0) == pytest.approx(0.3) and cost.seconds(4) == pytest.approx(0.3 + 1.0)
    assert cost.flops(4) == 3 * forward + 4 * drop
    totals = cost.totals(4)
    assert totals["step_seconds"] == 0.25 and totals["train_seconds"] == pytest.approx(1.3)
    assert totals["step_flops"] == drop and totals["flops"] == 3 * forward + 4 * drop
    assert (totals["table_warmup_steps"], totals["table_warmup_flops"]) == (3, 3 * forward)
    assert "table_warmup_steps" not in study.ArmCost(encoder, [0.25], 16, 3, 2).totals(4)


def test_step_budget_sizes_the_equal_cost_arms_by_hand():
    s = study.SCALES["tiny"]  # 20 steps; continuations 6
    seconds = {"baseline": 1.0, "token_drop": 0.8, "small_dense": 0.5, "continued_dense": 1.1,
               "continued_token_drop": 0.7}
    steps, modes = study.step_budget(s, {"step_seconds": seconds, "mode_seconds": {k: [v] for k, v in seconds.items()}})
    assert steps["baseline_equal_cost"] == 16 and steps["small_dense"] == 32  # token_drop's 16 step-seconds
    assert steps["token_drop_baseline_cost"] == 25  # the baseline's 20 step-seconds at 0.8 s
    assert steps["continued_dense_equal_cost"] == round(6 * 0.7 / 1.1) == 4
    assert steps["general"] == 20 and steps["continued_dense"] == steps["continued_token_drop_warm"] == 6
    # An arm of another's model takes its seconds; an untimed arm has none.
    assert modes["token_drop_baseline_cost"] == [0.8] and modes["general"] == modes["continued_dense"] == [1.1]
    assert modes["continued_token_drop_warm"] == [0.7] and "schedule" not in modes


@pytest.mark.parametrize("runs, message", [
    ("general,continued_token_drop", "the comparisons need continued_dense; add it"),
    ("continued_dense", "continued_dense continues general; add general"),
    ("general", "general is timed as continued_dense; add continued_dense"),
    ("general,continued_dense,continued_dense_equal_cost",
     "continued_dense_equal_cost is sized by continued_token_drop's cost"),
    ("token_drop_baseline_cost", "token_drop_baseline_cost is sized by baseline's cost; add baseline"),
])
def test_runs_missing_what_they_are_compared_with_are_refused(runs, message):
    with pytest.raises(study.StudyError, match=message):
        study.parse_runs(runs)


def test_domain_file_must_be_one_of_several_corpus_files():
    with pytest.raises(study.StudyError, match="--domain_file sqlite.txt is not a .txt file of --corpus_dir c"):
        study.check_domain_file("sqlite.txt", "c", ["c/a.txt", "c/b.txt"])
    with pytest.raises(study.StudyError, match="is the only file of --corpus_dir c: general would have no corpus"):
        study.check_domain_file("a.txt", "c", ["c/a.txt"])
    study.check_domain_file("a.txt", "c", ["c/a.txt", "c/b.txt"])


def test_new_runs_parse_in_running_order():
    runs = "continued_token_drop_warm,continued_token_drop,continued_dense,general,token_drop_baseline_cost,baseline"
    assert study.parse_runs(runs) == ["baseline", "token_drop_baseline_cost", "general", "continued_dense",
                                      "continued_token_drop", "continued_token_drop_warm"]


def test_goal_lines_of_the_new_arms_by_hand():
    def run(loss, **kwargs):
        return {"final_heldout_loss": loss, **kwargs}

    runs = {"baseline": run(5.60, train_seconds=1000.0, flops=100.0, other_seeds={"1": run(5.58)}),
            "token_drop_baseline_cost": run(5.55, steps=1150, train_seconds=999.0, flops=88.0,
                                            other_seeds={"1": run(5.59)})}
    seed0, seed1 = study.baseline_cost_goals(runs, "0")
    assert "(seed 0; 1150 steps, 999 step-seconds vs the baseline's 1000, 0.880 of its FLOPs)" in seed0
    assert seed0.endswith("5.550 vs the same seed's baseline 5.600 (goal: below it): met by +0.050 nats.")
    assert seed1.endswith("5.590 vs the same seed's baseline 5.580 (goal: below it): missed by -0.010 nats.")

    fresh = run(4.00, seconds_to_baseline_loss=300.0, other_seeds={"1": run(4.10)})
    warm = run(3.95, seconds_to_baseline_loss=280.0, table_warmup_steps=10, table_warmup_seconds=5.0,
               train_seconds=500.0, table_warmup_flops=2.0, flops=100.0)
    runs = {"continued_dense": run(4.05), "continued_token_drop": fresh, "continued_token_drop_warm": warm,
            "continued_dense_equal_cost": run(4.20, other_seeds={"1": run(4.05)})}
    ratios = {"continued_token_drop": {"0": {"seconds": 0.75, "flops": 0.81}}}
    reach0, equal0, reach1, equal1, table = study.continued_goals(runs, "0", ratios)
    assert reach0.endswith("(goal <= 0.80 of its step-seconds and FLOPs): 0.750 and 0.810: met / missed.")
    assert reach1.endswith("never reached: missed.")
    assert equal0.endswith("4.000 vs continued_dense_equal_cost 4.200 at equal step-seconds (goal: below it): "
                           "met by +0.200 nats.")
    assert equal1.endswith("missed by -0.050 nats.")
    assert "5.0 step-seconds, 1.0% of its run's, and 2.0% of its FLOPs" in table
    assert "-0.050 nats); better by step-seconds to continued_dense's final loss, 280 vs 300: warm" in table
    assert table.endswith("task.token_table_warmup_steps=10.")
    # Without a reach on both sides the final loss decides; a tie keeps the fresh table.
    fresh["seconds_to_baseline_loss"], warm["final_heldout_loss"] = None, 4.00
    line = study.table_warmup_verdict(fresh, warm)
    assert "final loss (warm reaches at 280 s, fresh never reaches continued_dense's): fresh" in line
    assert line.endswith("task.token_table_warmup_steps=0.")
    # A lower final loss by less than the fresh table's two seeds differ
    # (4.00 vs 4.10) is no evidence: the fresh table stays.
    warm["final_heldout_loss"] = 3.95
    line = study.table_warmup_verdict(fresh, warm)
    assert "continued_dense's), but the gap is within the fresh table's seed spread of 0.100 nats: fresh" in line
    fresh["other_seeds"]["1"]["final_heldout_loss"] = 4.04
    assert study.table_warmup_verdict(fresh, warm).endswith("task.token_table_warmup_steps=10.")


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


def test_a_stage_log_holds_its_logging_and_nothing_after(tmp_path):
    # absl would otherwise bind a root handler to the stage's redirected
    # stderr (its log, closed afterwards): a logging error on the next warning.
    from absl import logging as absl_logging

    before = list(logging.root.handlers)
    with open(tmp_path / "stage.log", "w") as log:
        assert study._call_logged(lambda: absl_logging.warning("inside the stage"), log) == 0
    assert logging.root.handlers == before
    assert (tmp_path / "stage.log").read_text() == "inside the stage\n"
