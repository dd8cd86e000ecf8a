"""What a run costs (step-seconds and FLOPs, each step at its training
mode), the steps of the arms sized by another's cost, and where a held-out
curve reaches another run's final loss."""

import math

from official_tokendrop.models.flops import encoder_run_flops, table_warmup_flops

from .arms import ARMS


class ArmCost:
    """Step-seconds and FLOPs of an arm's first `step` steps, each step at
    its training mode (schedule stage, full step), after the
    `warmup_steps` batches of its table warm-up at `warmup_seconds` each
    (forward passes); a fractional step takes that share of the next
    step's cost.

    Args:
        encoder: the arm's `TokenDropBertEncoder` (its schedule and shapes).
        mode_seconds: list, seconds per step of each of its training modes.
        seq, predictions, batch: int, the data's shapes.
        warmup_steps: int, batches of its table warm-up.
        warmup_seconds: float, seconds of one warm-up batch.

    Example:
    >>> cost = ArmCost(encoder, [0.25], 128, 20, 32)  # doctest: +SKIP
    >>> cost.seconds(8)  # doctest: +SKIP
    2.0
    """

    def __init__(self, encoder, mode_seconds, seq, predictions, batch, warmup_steps=0, warmup_seconds=0.0):
        self.encoder, self.mode_seconds = encoder, list(mode_seconds)
        self.seq, self.predictions, self.batch = seq, predictions, batch
        self.warmup_steps, self.warmup_seconds = warmup_steps, warmup_seconds

    def _run_cost(self, step, steps_cost):
        """`steps_cost(first, last)` of the steps `[0, step)`, the last one
        possibly a fraction of a step."""
        whole = int(math.floor(step))
        part = step - whole
        total = steps_cost(0, whole)
        return total + part * steps_cost(whole, whole + 1) if part else total

    def warmup(self):
        """(step-seconds, FLOPs) of the table warm-up before step 0."""
        return (self.warmup_steps * self.warmup_seconds,
                table_warmup_flops(self.encoder, self.seq, self.predictions, self.batch, self.warmup_steps))

    def seconds(self, step):
        schedule = self.encoder.schedule
        return self.warmup()[0] + self._run_cost(step, lambda first, last: schedule.run_cost(
            first, last, lambda index: self.mode_seconds[index]))

    def flops(self, step):
        return self.warmup()[1] + self._run_cost(step, lambda first, last: encoder_run_flops(
            self.encoder, self.seq, self.predictions, self.batch, first, last))

    def totals(self, steps):
        """The run's train_seconds and flops (the table warm-up's
        included), the means per training step, and the warm-up's share."""
        single = len(self.mode_seconds) == 1
        warmup_seconds, warmup_flops = self.warmup()
        seconds = warmup_seconds + steps * self.mode_seconds[0] if single else self.seconds(steps)
        flops = self.flops(steps)
        totals = {"step_seconds": self.mode_seconds[0] if single else (seconds - warmup_seconds) / steps,
                  "step_flops": (flops - warmup_flops) / steps, "train_seconds": seconds, "flops": flops,
                  "mode_seconds": self.mode_seconds}
        if self.warmup_steps:
            totals.update(table_warmup_steps=self.warmup_steps, table_warmup_seconds=warmup_seconds,
                          table_warmup_flops=warmup_flops)
        return totals

    def curve(self, curve):
        """The step-seconds and FLOPs spent by each point of a held-out
        curve ([(step, loss, accuracy)]): what the report plots."""
        steps = [point[0] for point in curve]
        return {"curve_seconds": [self.seconds(step) for step in steps],
                "curve_flops": [self.flops(step) for step in steps]}


def step_budget(scale, bench):
    """(steps of each arm, seconds per step of each of its training modes)
    from the benchmark: an arm sized by another (`Arm.sized_by`) runs the
    steps whose step-seconds equal that arm's run; an arm timed as another
    (`Arm.timed_as`) takes the seconds of the arm whose model it shares."""
    timed, modes = bench["step_seconds"], bench.get("mode_seconds", {})
    trained = [arm for arm in ARMS.values() if arm.pretrains]
    mode_seconds = {arm.name: modes.get(arm.timed, [timed[arm.timed]]) for arm in trained if arm.timed in timed}
    steps = {arm.name: arm.default_steps(scale) for arm in trained}
    for arm in trained:
        sizing = arm.sized_by
        if sizing and arm.name in mode_seconds and sizing in mode_seconds:  # both of one mode
            steps[arm.name] = round(steps[sizing] * mode_seconds[sizing][0] / mode_seconds[arm.name][0])
    return steps, mode_seconds


def first_reach(steps, losses, target):
    """Fractional step where the curve first reaches `target` (linear between
    evaluations), or None. The curve starts at step 0 with no loss reached."""
    previous_step, previous_loss = None, None
    for step, loss in zip(steps, losses):
        if loss <= target:
            if previous_step is None or previous_loss == loss:
                return float(step)
            fraction = (previous_loss - target) / (previous_loss - loss)
            return float(previous_step + fraction * (step - previous_step))
        previous_step, previous_loss = step, loss
    return None


def reach_baseline(run, baseline, cost, baseline_cost):
    """Adds to `run` (one seed of an arm whose `ArmCost` is `cost`) the step,
    step-seconds and FLOPs at which it first reaches `baseline`'s final
    held-out loss (None: never); and, the other way round, the step where
    the baseline (`baseline_cost`) first reaches this run's final loss with
    what this run spent on it as shares of what the baseline spent there
    (None: the baseline never gets that low). The second answers "how far
    off" for an arm that never reaches the baseline."""
    curve, base = run["curve"], baseline["curve"]
    step = first_reach([c[0] for c in curve], [c[1] for c in curve], baseline["final_heldout_loss"])
    run["steps_to_baseline_loss"] = step
    run["seconds_to_baseline_loss"] = None if step is None else cost.seconds(step)
    run["flops_to_baseline_loss"] = None if step is None else cost.flops(step)
    own = first_reach([c[0] for c in base], [c[1] for c in base], run["final_heldout_loss"])
    run["baseline_steps_to_own_loss"] = own
    last = curve[-1][0]
    run["own_loss_vs_baseline"] = None if not own else {
        "seconds": cost.seconds(last) / baseline_cost.seconds(own),
        "flops": cost.flops(last) / baseline_cost.flops(own)}
