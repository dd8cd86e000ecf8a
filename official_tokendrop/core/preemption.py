"""Stopping a run on SIGTERM (a spot machine's notice) or Ctrl-C with a
checkpoint at the step reached (`trainer.preemption_on_demand_checkpoint`).

One process (one device or mirrored replicas): `SignalStop` sets a flag
that the training loop reads before every step, so the loop ends within
one step of the signal even while the main thread is inside TensorFlow
(Python runs signal handlers only between bytecodes, i.e. after the loop;
the interpreter's wakeup file descriptor is written at once, and a thread
reading it sets the flag). The runner then saves and raises `Preempted`.

Several workers must all save one step, so a multi-worker run uses
TensorFlow's own `PreemptionCheckpointHandler` (as Model Garden does): on
SIGTERM every worker saves after the running loop (at most
`trainer.steps_per_loop` steps later) and stops.
"""

import contextlib
import os
import signal
import threading

import tensorflow as tf

from official_tokendrop.core.cluster import worker_count
from official_tokendrop.errors import RunError

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(RunError):
    """A signal stopped the run; its state is saved at the step reached."""


class StopRequested(Exception):
    """The training loop ended early because a stop was requested."""


def preempted_message(signal_name, step, checkpoint):
    return (f"stopped by {signal_name} at step {step}; saved {checkpoint}. "
            "Rerun the same command to resume from it.")


class SignalStop:
    """While active (a context manager), SIGTERM and SIGINT set `flag` (a
    boolean `tf.Variable`) and record their name in `received`; on exit the
    previous handlers are back.

    Only the main thread may install signal handlers: elsewhere (a run
    started from a user's thread) signals keep their previous handlers.
    """

    def __init__(self, flag):
        self.flag = flag
        self.received = None
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._previous = {number: signal.signal(number, self._handle) for number in SIGNALS}
        self._previous_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        self._watcher = threading.Thread(target=self._watch, name="signal-stop", daemon=True)
        self._watcher.start()
        return self

    def _handle(self, number, frame):
        # Runs in the main thread once it is back in Python; the watcher
        # has set the flag already.
        self.received = signal.Signals(number).name

    def _watch(self):
        # The interpreter writes each caught signal's number here at once,
        # from whichever thread the signal interrupted.
        while data := os.read(self._read_fd, 1):
            if data[0] in SIGNALS:
                self.received = signal.Signals(data[0]).name
                self.flag.assign(True)

    def __exit__(self, *exc_info):
        if self._previous is None:
            return
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        os.close(self._write_fd)  # ends the watcher's read
        self._watcher.join()
        os.close(self._read_fd)
        self._previous = None


class PreemptionGuard:
    """`trainer.preemption_on_demand_checkpoint` for one run: what saves the
    step reached when a signal comes, in the form the run's cluster needs.

    Args:
        enabled: the key's value; False: no handlers, a signal ends the run
            as it would without us and nothing is saved.
        strategy: the run's `tf.distribute` strategy.
        manager: the run's checkpoint manager (`save`, `latest_checkpoint`).
        stop_flag: the boolean `tf.Variable` the traced training loop reads
            before every step.
        step: `() -> int`, the run's step.
    """

    def __init__(self, enabled, strategy, manager, stop_flag, step):
        self.strategy, self.manager, self.stop_flag, self.step = strategy, manager, stop_flag, step
        self.enabled = enabled
        self.multi_worker = worker_count(strategy) > 1

    def loop_actions(self):
        """A multi-worker run's save on SIGTERM, after each loop: TensorFlow's
        handler makes every worker save the same step, then stop."""
        if not self.enabled or not self.multi_worker:
            return []

        def stopped():
            raise Preempted(preempted_message("SIGTERM", self.step(), self.manager.latest_checkpoint))

        handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            self.strategy.cluster_resolver, self.manager,
            termination_config=tf.distribute.experimental.TerminationConfig(exit_fn=stopped))
        return [lambda logs: handler.save_checkpoint_if_preempted(check_interval=False)]

    @contextlib.contextmanager
    def stop_on_signals(self):
        """One process: SIGTERM or Ctrl-C stops the loop at the step reached,
        which is saved before the run ends with `Preempted`."""
        if not self.enabled or self.multi_worker:
            yield
            return
        with SignalStop(self.stop_flag) as stop:
            try:
                yield
            except StopRequested:
                self.manager.save(check_interval=False)
                raise Preempted(preempted_message(stop.received, self.step(), self.manager.latest_checkpoint)) from None
