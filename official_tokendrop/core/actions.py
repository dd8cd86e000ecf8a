"""What happens after each training loop or evaluation, as Model Garden's
`official/core/actions.py`: small callables Orbit's controller calls with
the loop's logs (or the evaluation's results), and the rule for which loop
ends report."""

import json
import math
import os
import sys

import orbit
import tensorflow as tf

from official_tokendrop.errors import RunError
from official_tokendrop.utils.outputs import writing


def log(message):
    """A line on stderr, at once (the run's log)."""
    print(message, file=sys.stderr, flush=True)


class TrainingDiverged(RunError):
    """The loss became NaN or infinite."""


def on_summary_grid(step, interval, last_step):
    """Whether a loop ending at `step` reports (train summaries, the
    progress line): multiples of `interval` (every loop if it is <= 0)
    and the last step."""
    return interval <= 0 or step % interval == 0 or step == last_step


class Summaries(orbit.utils.SummaryManager):
    """Orbit's summary manager; a summary directory that cannot be written
    ends the run with one line. (On a full disk TensorFlow's event writer
    drops events without an error; the next checkpoint save reports it.)"""

    def summary_writer(self, relative_path=""):
        path = os.path.join(self._summary_dir or "", relative_path) if relative_path else self._summary_dir
        with writing("summaries", path):
            return super().summary_writer(relative_path)


class GridSummaries(Summaries):
    """Orbit writes train summaries after every loop; loops here also end
    at checkpoint and validation steps, so only those on the summary grid
    are written, each the mean of the loop that ended there."""

    def __init__(self, directory, global_step, interval, last_step):
        super().__init__(directory, tf.summary.scalar, global_step=global_step)
        self._interval, self._last_step = interval, last_step

    def write_summaries(self, summary_dict):
        if on_summary_grid(int(self._global_step.numpy()), self._interval, self._last_step):
            super().write_summaries(summary_dict)


class LossGuard:
    """Model Garden's recovery (`trainer.loss_upper_bound`,
    `recovery_begin_steps`, `recovery_max_trials`), run before the loop's
    checkpoint: a loop whose loss is NaN or infinite, or above the bound
    from `begin_steps` on, is a divergence. The first `max_trials` are
    undone by restoring the weights and optimizer of the last checkpoint;
    the data goes on (replaying its batches would diverge again). The next
    ends the run without saving. `max_trials` -1: never checked.
    """

    def __init__(self, step, checkpoint_manager, restore, upper_bound, begin_steps, max_trials):
        self._step, self._manager, self._restore = step, checkpoint_manager, restore
        self._bound, self._begin, self._max_trials = upper_bound, begin_steps, max_trials
        self.trials = 0

    def _divergence(self, loss, step):
        if not math.isfinite(loss):
            return f"loss is {loss}"
        if step >= self._begin and loss > self._bound:
            return f"loss {loss:.4g} exceeds trainer.loss_upper_bound={self._bound:g}"
        return None

    def __call__(self, logs):
        if self._max_trials < 0:
            return
        step = int(self._step.numpy())
        divergence = self._divergence(logs["loss"], step)
        if divergence is None:
            return
        last = self._manager.latest_checkpoint
        if self.trials < self._max_trials and last:
            self.trials += 1
            self._restore(last)
            log(f"{divergence} at step {step}; restored {last} (recovery {self.trials} of "
                f"trainer.recovery_max_trials={self._max_trials})")
            return
        raise TrainingDiverged(
            f"{divergence} at step {step}; stopped without saving after {self.trials} "
            f"recoveries. Last good checkpoint: {last or 'none'}")


class ProgressLine:
    """The progress line of each loop on the summary grid: loss, accuracy,
    learning rate, throughput, kept tokens, elapsed time and ETA."""

    def __init__(self, step, eta, interval, total):
        self._step, self._eta, self._interval, self._total = step, eta, interval, total

    def __call__(self, logs):
        step = int(self._step.numpy())
        self._eta.update(step)
        if not on_summary_grid(step, self._interval, self._total):
            return
        log(
            f"step {step}/{self._total} | loss {logs['loss']:.4f} | mlm_acc "
            f"{logs['mlm_accuracy']:.4f} | lr {logs['learning_rate']:.3g} | "
            f"{logs['examples_per_second']:.1f} ex/s | kept {logs['kept_token_fraction']:.2f} | "
            f"{self._eta.describe()}"
        )


class EvalResultsWriter:
    """Writes each evaluation's results, with their step, to
    `directory/eval_results.json` and keeps the last as `last`."""

    def __init__(self, step, directory):
        self._step, self._directory = step, directory
        self.last = None

    def __call__(self, results):
        results["step"] = int(self._step.numpy())
        path = os.path.join(self._directory, "eval_results.json")
        with writing("evaluation results", path), tf.io.gfile.GFile(path, "w") as f:
            json.dump(results, f, indent=2)
        self.last = dict(results)
