"""The arm table: every row's facts by hand, and the runs a study accepts."""

import pytest

from experiments.study.arms import ARMS, DEFAULT_RUNS, SCALES
from experiments.study.cli import check_domain_file, parse_runs
from experiments.study.stages import StudyError


def names(**field):
    (key, value), = field.items()
    return [name for name, arm in ARMS.items() if getattr(arm, key) == value]


def test_the_table_holds_each_arms_facts():
    assert list(ARMS) == ["baseline", "token_drop", "baseline_equal_cost", "small_dense", "no_pretraining",
                          "random", "frequency", "schedule", "hybrid", "token_drop_baseline_cost", "general",
                          "continued_dense", "continued_token_drop", "continued_dense_equal_cost",
                          "continued_token_drop_warm", "released", "released_random", "released_dense",
                          "released_token_drop", "released_dense_equal_cost"]
    assert DEFAULT_RUNS == ("baseline", "token_drop", "baseline_equal_cost", "small_dense", "no_pretraining")
    assert names(dropping=True) == ["token_drop", "random", "frequency", "schedule", "hybrid",
                                    "token_drop_baseline_cost", "continued_token_drop", "continued_token_drop_warm",
                                    "released_token_drop"]
    released = ["released_dense", "released_token_drop", "released_dense_equal_cost"]  # its continuations
    assert names(seeded=True) == ["baseline", "token_drop", "token_drop_baseline_cost", "continued_dense",
                                  "continued_token_drop", "continued_dense_equal_cost"] + released
    assert names(finetuned=True) == list(DEFAULT_RUNS) + ["random", "frequency", "schedule", "hybrid", "released",
                                                          "released_random"] + released
    assert names(pretrains=False) == ["no_pretraining", "released", "released_random"]
    assert names(shipped=True) == ["released"] and names(warmed=True) == ["continued_token_drop_warm"]
    assert names(corpus="released") == ["released", "released_random"] + released
    assert names(continues=True) == ["continued_dense", "continued_token_drop", "continued_dense_equal_cost",
                                     "continued_token_drop_warm"] + released
    assert {n: a.sized_by for n, a in ARMS.items() if a.sized_by} == {
        "baseline_equal_cost": "token_drop", "small_dense": "token_drop", "token_drop_baseline_cost": "baseline",
        "continued_dense_equal_cost": "continued_token_drop", "released_dense_equal_cost": "released_token_drop"}
    assert {n: a.timed for n, a in ARMS.items() if a.timed != n} == {
        "baseline_equal_cost": "baseline", "token_drop_baseline_cost": "token_drop", "general": "continued_dense",
        "continued_dense_equal_cost": "continued_dense", "continued_token_drop_warm": "continued_token_drop",
        "released_dense_equal_cost": "released_dense"}
    # Measured against another's final loss: every trained arm but the references and general.
    assert names(compared=True) == ["token_drop", "baseline_equal_cost", "small_dense", "random", "frequency",
                                    "schedule", "hybrid", "token_drop_baseline_cost", "continued_token_drop",
                                    "continued_dense_equal_cost", "continued_token_drop_warm", "released_token_drop",
                                    "released_dense_equal_cost"]
    for arm in ARMS.values():  # every name a row gives is a row
        assert {arm.reference, arm.timed, arm.sized_by} - {None} <= set(ARMS)


def test_rows_answer_for_the_scale():
    tiny = SCALES["tiny"]  # seq 32, 20 steps, continuations 6, warm-up 2
    assert ARMS["schedule"].encoder_keys(tiny) == {
        "token_keep_k": 8, "token_keep_k_schedule": [{"start_step": 10, "keep_k": 16}]}
    assert ARMS["hybrid"].encoder_keys(tiny) == {"token_full_step_every": 4} and ARMS["token_drop"].encoder_keys(tiny) == {}
    assert [ARMS[n].default_steps(tiny) for n in ("baseline", "general", "continued_token_drop")] == [20, 20, 6]
    assert [ARMS[n].table_warmup_steps(tiny) for n in ("continued_token_drop_warm", "continued_token_drop")] == [2, 0]
    # The released model's continuations run the continuation's steps.
    minilm = SCALES["minilm"]
    assert [ARMS[n].default_steps(minilm) for n in ("released_dense", "released_dense_equal_cost")] == [
        minilm.continue_steps] * 2
    assert (minilm.hidden, minilm.layers, minilm.heads, minilm.inner, minilm.positions, minilm.hidden_activation) == (
        384, 6, 12, 1536, 512, "gelu_exact")


@pytest.mark.parametrize("runs, message", [
    ("baseline,tokendrop", "--runs: unknown run 'tokendrop'; choose from baseline, token_drop, "),
    ("small_dense,baseline", "small_dense is sized by token_drop's cost; add token_drop"),
    ("general,continued_token_drop", "the comparisons need continued_dense; add it"),
    ("continued_dense", "continued_dense continues general; add general"),
    ("general", "general is timed as continued_dense; add continued_dense"),
    ("general,continued_dense,continued_dense_equal_cost",
     "continued_dense_equal_cost is sized by continued_token_drop's cost"),
    ("token_drop_baseline_cost", "token_drop_baseline_cost is sized by baseline's cost; add baseline"),
    ("released_token_drop", "the comparisons need released_dense; add it"),
    ("released_dense,released_dense_equal_cost", "released_dense_equal_cost is sized by released_token_drop's"),
    (",", "--runs is empty"),
])
def test_runs_missing_what_they_are_compared_with_are_refused(runs, message):
    with pytest.raises(StudyError, match=message):
        parse_runs(runs)


def test_runs_parse_in_running_order():
    runs = "continued_token_drop_warm,continued_token_drop,continued_dense,general,token_drop_baseline_cost,baseline"
    assert parse_runs(runs) == ["baseline", "token_drop_baseline_cost", "general", "continued_dense",
                                "continued_token_drop", "continued_token_drop_warm"]
    # Timed as token_drop, which the benchmark times without it running.
    assert parse_runs("baseline,token_drop_baseline_cost") == ["baseline", "token_drop_baseline_cost"]
    # The released model's arms need no general model.
    assert parse_runs("released_dense_equal_cost,released_random,released_token_drop,released,released_dense") == [
        "released", "released_random", "released_dense", "released_token_drop", "released_dense_equal_cost"]


def test_domain_file_must_be_one_of_the_corpus_files_and_not_generals_only_one():
    general = ["general", "continued_dense"]
    with pytest.raises(StudyError, match="--domain_file sqlite.txt is not a .txt file of --corpus_dir c"):
        check_domain_file("sqlite.txt", "c", ["c/a.txt", "c/b.txt"], general)
    with pytest.raises(StudyError, match="is the only file of --corpus_dir c: general would have no corpus"):
        check_domain_file("a.txt", "c", ["c/a.txt"], general)
    check_domain_file("a.txt", "c", ["c/a.txt", "c/b.txt"], general)
    # The released model's continuations need the file, not a second one.
    check_domain_file("a.txt", "c", ["c/a.txt"], ["released_dense"])
    with pytest.raises(StudyError, match="--domain_file b.txt is not a .txt file"):
        check_domain_file("b.txt", "c", ["c/a.txt"], ["released_dense"])
    check_domain_file("b.txt", "c", ["c/a.txt"], ["baseline"])  # no run on a domain file
