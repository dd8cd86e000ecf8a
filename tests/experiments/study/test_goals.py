"""The goal lines, by hand, from hand-made results."""

from experiments.study import goals


def run(loss, **kwargs):
    return {"final_heldout_loss": loss, **kwargs}


def test_goal_lines_of_the_equal_compute_and_continued_arms_by_hand():
    runs = {"baseline": run(5.60, train_seconds=1000.0, flops=100.0, other_seeds={"1": run(5.58)}),
            "token_drop_baseline_cost": run(5.55, steps=1150, train_seconds=999.0, flops=88.0,
                                            other_seeds={"1": run(5.59)})}
    seed0, seed1 = goals.baseline_cost_goals(runs, "0")
    assert "(seed 0; 1150 steps, 999 step-seconds vs the baseline's 1000, 0.880 of its FLOPs)" in seed0
    assert seed0.endswith("5.550 vs the same seed's baseline 5.600 (goal: below it): met by +0.050 nats.")
    assert seed1.endswith("5.590 vs the same seed's baseline 5.580 (goal: below it): missed by -0.010 nats.")

    fresh = run(4.00, seconds_to_baseline_loss=300.0, other_seeds={"1": run(4.10)})
    warm = run(3.95, seconds_to_baseline_loss=280.0, table_warmup_steps=10, table_warmup_seconds=5.0,
               train_seconds=500.0, table_warmup_flops=2.0, flops=100.0)
    runs = {"continued_dense": run(4.05), "continued_token_drop": fresh, "continued_token_drop_warm": warm,
            "continued_dense_equal_cost": run(4.20, other_seeds={"1": run(4.05)})}
    ratios = {"continued_token_drop": {"0": {"seconds": 0.75, "flops": 0.81}}}
    reach0, equal0, reach1, equal1, table = goals.continued_goals(runs, "0", ratios)
    assert reach0.endswith("(goal <= 0.80 of its step-seconds and FLOPs): 0.750 and 0.810: met / missed.")
    assert reach1.endswith("never reached: missed.")
    assert equal0.endswith("4.000 vs continued_dense_equal_cost 4.200 at equal step-seconds (goal: below it): "
                           "met by +0.200 nats.")
    assert equal1.endswith("missed by -0.050 nats.")
    assert "5.0 step-seconds, 1.0% of its run's, and 2.0% of its FLOPs" in table
    assert "-0.050 nats); better by step-seconds to continued_dense's final loss, 280 vs 300: warm" in table
    assert table.endswith("task.token_table_warmup_steps=10.")


def test_the_table_warmup_verdict_needs_more_than_the_seed_spread():
    fresh = run(4.00, seconds_to_baseline_loss=None, other_seeds={"1": run(4.10)})
    warm = run(4.00, seconds_to_baseline_loss=280.0, table_warmup_steps=10, table_warmup_seconds=5.0,
               train_seconds=500.0, table_warmup_flops=2.0, flops=100.0)
    # Without a reach on both sides the final loss decides; a tie keeps the fresh table.
    line = goals.table_warmup_verdict(fresh, warm)
    assert "final loss (warm reaches at 280 s, fresh never reaches continued_dense's): fresh" in line
    assert line.endswith("task.token_table_warmup_steps=0.")
    # A lower final loss by less than the fresh table's two seeds differ
    # (4.00 vs 4.10) is no evidence: the fresh table stays.
    warm["final_heldout_loss"] = 3.95
    line = goals.table_warmup_verdict(fresh, warm)
    assert "continued_dense's), but the gap is within the fresh table's seed spread of 0.100 nats: fresh" in line
    fresh["other_seeds"]["1"]["final_heldout_loss"] = 4.04
    assert goals.table_warmup_verdict(fresh, warm).endswith("task.token_table_warmup_steps=10.")


def test_goal_lines_of_the_paper_arms_and_variants_by_hand():
    runs = {"baseline": run(5.5, other_seeds={"1": run(5.7)}),
            "token_drop": run(5.7, other_seeds={"1": run(5.8)}, own_loss_vs_baseline={"seconds": 0.9, "flops": 0.8}),
            "baseline_equal_cost": run(5.75), "small_dense": run(5.6),
            "schedule": run(5.65, variant={"token_keep_k": 32}, own_loss_vs_baseline={"seconds": 0.85, "flops": 0.7}),
            "hybrid": run(5.6, variant={"token_full_step_every": 4})}
    results = {"runs": runs, "seed": 0, "unigram_heldout_loss": 6.6, "tasks": ["wn_supersense"], "finetune": {},
               "to_baseline_loss_vs_baseline": {"hybrid": {"seconds": 0.5, "flops": 0.7}},
               "to_baseline_loss_vs_baseline_by_seed": {"token_drop": {"1": {"seconds": 0.7, "flops": 0.6}}},
               "pretraining_benefit": {"baseline": {"wn_supersense": 0.14}, "token_drop": {"wn_supersense": 0.13}},
               "benefit_kept_vs_baseline": {"token_drop": {"wn_supersense": 13 / 14}, "hybrid": {"wn_supersense": 0.5}}}
    assert goals.goal_lines(results) == [
        "- baseline 1.100 nats below the unigram predictor (goal >= 1.0): met.",
        "- token_drop (seed 0) to the same seed's baseline final loss (goal <= 0.80 of its step-seconds and FLOPs): "
        "never reached: missed.",
        "- token_drop (seed 1) to the same seed's baseline final loss (goal <= 0.80 of its step-seconds and FLOPs): "
        "0.700 and 0.600: met / met.",
        "- wn_supersense: baseline's pretraining benefit +14.0 points (goal >= 5 on one task); token_drop keeps 93% "
        "of it (goal >= 90%): met.",
        "- final held-out loss, mean of 2 pretraining seeds: baseline 5.600, token_drop 5.750 (+0.150 nats).",
        "- schedule ({\"token_keep_k\": 32}) to the baseline's final loss (goal <= 0.6 of its step-seconds and "
        "FLOPs): never reached: missed.",
        "- hybrid ({\"token_full_step_every\": 4}) to the baseline's final loss (goal <= 0.6 of its step-seconds "
        "and FLOPs): 0.500 / 0.700: missed; benefit kept (goal >= 90%): wn_supersense 50%.",
        "- token_drop (plain) to the baseline's final loss (goal <= 0.6 of its step-seconds and FLOPs): never "
        "reached: missed; benefit kept (goal >= 90%): wn_supersense 93%.",
        "- best variant: hybrid at 0.500 of the step-seconds.",
        "- at equal step-seconds token_drop ends at 5.700 vs baseline_equal_cost 5.750: token_drop better by "
        "+0.050 nats.",
        "- at equal step-seconds token_drop ends at 5.700 vs small_dense 5.600: token_drop not better by "
        "-0.100 nats.",
    ]
    # No variant reaches: the one cheapest to its own final loss.
    del results["to_baseline_loss_vs_baseline"]["hybrid"]
    assert goals.best_variant(["schedule", "hybrid"], runs, results["to_baseline_loss_vs_baseline"]) == (
        "- best variant: none reaches the baseline's final loss; measured to its own final loss instead, the "
        "cheapest is schedule: 0.850 of the baseline's step-seconds and 0.700 of its FLOPs to that loss.")


def scores(mean, std):
    return {"mean": mean, "std": std}


def test_goal_lines_of_the_released_model_by_hand():
    runs = {"released": run(None), "released_random": run(None),
            "released_dense": run(3.00, train_seconds=1000.0, other_seeds={"1": run(3.02)}),
            "released_token_drop": run(3.01, train_seconds=790.0, other_seeds={"1": run(3.03)}),
            "released_dense_equal_cost": run(3.10, train_seconds=790.0, other_seeds={"1": run(3.00)})}
    finetune = {"released": {"convention_party": scores(0.700, 0.01), "domain_neighbours": scores(0.80, 0.01)},
                "released_random": {"convention_party": scores(0.640, 0.02), "domain_neighbours": scores(0.60, 0.0)},
                "released_dense": {"convention_party": scores(0.700, 0.012), "domain_neighbours": scores(0.800, 0.004)},
                "released_token_drop": {"convention_party": scores(0.690, 0.005),
                                        "domain_neighbours": scores(0.790, 0.005)},
                "released_dense_equal_cost": {"convention_party": scores(0.695, 0.01),
                                              "domain_neighbours": scores(0.780, 0.01)}}
    results = {"runs": runs, "seed": 0, "tasks": ["convention_party", "domain_neighbours"], "finetune": finetune,
               "to_baseline_loss_vs_baseline_by_seed": {"released_token_drop": {"0": {"seconds": 0.79, "flops": 0.75}}}}
    assert goals.continued_goals(runs, "0", results["to_baseline_loss_vs_baseline_by_seed"]) == [
        "- released_token_drop (seed 0) to the same seed's released_dense final domain held-out loss (goal <= 0.80 "
        "of its step-seconds and FLOPs): 0.790 and 0.750: met / met.",
        "- released_token_drop (seed 0) ends at 3.010 vs released_dense_equal_cost 3.100 at equal step-seconds "
        "(goal: below it): met by +0.090 nats.",
        "- released_token_drop (seed 1) to the same seed's released_dense final domain held-out loss (goal <= 0.80 "
        "of its step-seconds and FLOPs): never reached: missed.",
        "- released_token_drop (seed 1) ends at 3.030 vs released_dense_equal_cost 3.000 at equal step-seconds "
        "(goal: below it): missed by -0.030 nats."]
    assert goals.downstream_goals(results) == [
        # 6 points over random weights on the general task (the goal's), 20 on the domain's.
        "- convention_party: released 0.700 vs released_random 0.640 (+6.0 points; goal >= 5: met).",
        "- domain_neighbours: released 0.800 vs released_random 0.600 (+20.0 points).",
        # 0.690 / 0.700 = 98.6% < 99%, but within the larger spread (0.012); 0.79 of the step-seconds.
        "- convention_party: released_token_drop 0.690 vs released_dense 0.700 (98.6%; seed spread 0.012) at 0.790 "
        "of its step-seconds (goal: within the spread or >= 99%, at <= 0.80): met.",
        "- convention_party: released_token_drop 0.690 vs released_dense_equal_cost 0.695 at equal step-seconds "
        "(goal: above it): missed by -0.5 points.",
        # 98.75%, 0.010 below: outside the spread of 0.005.
        "- domain_neighbours: released_token_drop 0.790 vs released_dense 0.800 (98.8%; seed spread 0.005) at 0.790 "
        "of its step-seconds (goal: within the spread or >= 99%, at <= 0.80): missed.",
        "- domain_neighbours: released_token_drop 0.790 vs released_dense_equal_cost 0.780 at equal step-seconds "
        "(goal: above it): met by +1.0 points."]
