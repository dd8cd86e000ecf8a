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


class StopOnNan:
    """Ends the run before the loop's checkpoint if the loss diverged."""

    def __init__(self, step, checkpoint_manager):
        self._step, self._manager = step, checkpoint_manager

    def __call__(self, logs):
        if not all(math.isfinite(v) for v in logs.values()):
            last = self._manager.latest_checkpoint or "none"
            raise TrainingDiverged(
                f"loss is {logs['loss']} at step {int(self._step.numpy())}; stopped without saving. "
                f"Last good checkpoint: {last}"
            )


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
