"""A run's cost, the equal-cost arms' sizes and where curves reach, by hand."""

import pytest

from experiments.study.arms import SCALES
from experiments.study.configs import closest_dense_layers
from experiments.study.costs import ArmCost, first_reach, reach_baseline, step_budget
from official_tokendrop.models import TokenDropBertEncoder
from official_tokendrop.models.flops import step_flops


def encoder(**keys):
    return TokenDropBertEncoder(vocab_size=50, hidden_size=8, num_layers=4, num_attention_heads=2, inner_dim=16,
                                max_sequence_length=16, token_keep_k=8, token_allow_list=(), token_deny_list=(),
                                **keys)


def test_arm_cost_counts_each_step_at_its_mode():
    cost = ArmCost(encoder(token_full_step_every=4), [0.25, 1.0], 16, 3, 2)
    # Steps 3 and 7 (0-based) run full: 8 steps = 6 x 0.25 + 2 x 1.0; half
    # of step 8 (dropping) adds 0.125, half of step 7 (full) 0.5.
    assert cost.seconds(8) == 3.5 and cost.seconds(8.5) == 3.625 and cost.seconds(7.5) == 2.5 + 0.5
    drop, full = (step_flops(8, 4, 16, 16, 50, 3, 2, keep_k=k).training_step for k in (8, None))
    assert cost.flops(8) == 6 * drop + 2 * full and cost.flops(7.5) == 6 * drop + full + 0.5 * full
    totals = cost.totals(8)
    assert totals["train_seconds"] == 3.5 and totals["step_seconds"] == 3.5 / 8
    # What the report plots: the cost at each evaluated step.
    curve = [(4, 6.0, 0.1), (8, 5.0, 0.2)]
    assert cost.curve(curve) == {"curve_seconds": [1.75, 3.5], "curve_flops": [3 * drop + full, 6 * drop + 2 * full]}


def test_arm_cost_counts_the_table_warmup_before_step_0():
    cost = ArmCost(encoder(), [0.25], 16, 3, 2, warmup_steps=3, warmup_seconds=0.1)
    # Three forward passes of the full encoder (no backward), then steps.
    forward = step_flops(8, 4, 16, 16, 50, 3, 2).forward
    drop = step_flops(8, 4, 16, 16, 50, 3, 2, keep_k=8).training_step
    assert cost.seconds(0) == pytest.approx(0.3) and cost.seconds(4) == pytest.approx(0.3 + 1.0)
    assert cost.flops(4) == 3 * forward + 4 * drop
    totals = cost.totals(4)
    assert totals["step_seconds"] == 0.25 and totals["train_seconds"] == pytest.approx(1.3)
    assert totals["step_flops"] == drop and totals["flops"] == 3 * forward + 4 * drop
    assert (totals["table_warmup_steps"], totals["table_warmup_flops"]) == (3, 3 * forward)
    assert "table_warmup_steps" not in ArmCost(encoder(), [0.25], 16, 3, 2).totals(4)


def test_step_budget_sizes_the_equal_cost_arms_by_hand():
    s = SCALES["tiny"]  # 20 steps; continuations 6
    seconds = {"baseline": 1.0, "token_drop": 0.8, "small_dense": 0.5, "continued_dense": 1.1,
               "continued_token_drop": 0.7}
    steps, modes = step_budget(s, {"step_seconds": seconds, "mode_seconds": {k: [v] for k, v in seconds.items()}})
    assert steps["baseline_equal_cost"] == 16 and steps["small_dense"] == 32  # token_drop's 16 step-seconds
    assert steps["token_drop_baseline_cost"] == 25  # the baseline's 20 step-seconds at 0.8 s
    assert steps["continued_dense_equal_cost"] == round(6 * 0.7 / 1.1) == 4
    assert steps["general"] == 20 and steps["continued_dense"] == steps["continued_token_drop_warm"] == 6
    # An arm of another's model takes its seconds; an untimed arm has none.
    assert modes["token_drop_baseline_cost"] == [0.8] and modes["general"] == modes["continued_dense"] == [1.1]
    assert modes["continued_token_drop_warm"] == [0.7] and "schedule" not in modes


def test_first_reach_interpolates_between_evaluations():
    steps, losses = [100, 200, 300], [6.0, 5.0, 4.0]
    assert first_reach(steps, losses, 5.5) == 150.0
    assert first_reach(steps, losses, 4.0) == 300.0
    assert first_reach(steps, losses, 6.5) == 100.0  # reached at the first evaluation
    assert first_reach(steps, losses, 3.9) is None
    assert first_reach([100, 200, 300, 400], [6.0, 4.5, 5.0, 4.0], 4.75) == 100 + 100 * (1.25 / 1.5)


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
    reach_baseline(slow, baseline, cost, base_cost)
    assert slow["steps_to_baseline_loss"] is None and slow["seconds_to_baseline_loss"] is None
    assert slow["baseline_steps_to_own_loss"] == 17.5
    assert slow["own_loss_vs_baseline"] == {"seconds": pytest.approx(15 / 17.5), "flops": pytest.approx(90 / 70)}
    # Reaches 4.5 halfway between steps 10 and 20; ends below the baseline,
    # whose curve never gets that low.
    fast = {"curve": [(10, 5.0, 0.0), (20, 4.0, 0.0)], "final_heldout_loss": 4.0}
    reach_baseline(fast, baseline, cost, base_cost)
    assert fast["steps_to_baseline_loss"] == 15.0
    assert fast["seconds_to_baseline_loss"] == 7.5 and fast["flops_to_baseline_loss"] == 45.0
    assert fast["baseline_steps_to_own_loss"] is None and fast["own_loss_vs_baseline"] is None


def test_the_smaller_dense_model_has_the_flops_nearest_token_dropping():
    s = SCALES["study"]  # 6 x 128, keep 64: layers 2-4 see half the tokens

    def per_step(layers, keep=None):
        return step_flops(s.hidden, layers, s.inner, s.seq, 7875, s.predictions, s.batch, keep_k=keep).training_step

    # Exactly halfway between 4 and 5 dense layers: the tie goes to the
    # cheaper model (the committed study's small_dense: 4 layers).
    target = per_step(6, 64)
    assert per_step(4) < target < per_step(5) and target - per_step(4) == per_step(5) - target
    assert closest_dense_layers(s, 7875) == 4
    assert closest_dense_layers(SCALES["tiny"], 400) == 3  # 4 x 32, keep 16 of 32
