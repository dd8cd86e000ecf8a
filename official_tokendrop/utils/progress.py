"""Elapsed time and time-left estimates for long jobs' progress lines."""

import collections
import time


def format_duration(seconds):
    """`3725` -> `1h02m`, `185` -> `3m05s`, `12` -> `12s`."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


class Eta:
    """Estimates the time left from the rate of the last `window` updates.

    A moving window rather than the average since the start, so a slow
    beginning (XLA compilation, a cold cache) or an earlier pace fades out.
    The first update only sets the reference point: the estimate needs two.

    Args:
        total: units of work (steps, lines, sequences) to finish.
        window: how many recent intervals the rate is taken over.
        clock: seconds as a float (tests pass a fake clock).
    """

    def __init__(self, total, window=10, clock=time.monotonic):
        self.total = total
        self.clock = clock
        self.start = clock()
        self.points = collections.deque(maxlen=window + 1)

    def update(self, done):
        self.points.append((self.clock(), done))

    def elapsed(self):
        return self.clock() - self.start

    def seconds_left(self):
        """Seconds to `total` at the recent rate, or None before two updates."""
        if len(self.points) < 2:
            return None
        (t0, d0), (t1, d1) = self.points[0], self.points[-1]
        if d1 <= d0 or t1 <= t0:
            return None
        return max(0.0, (self.total - d1) * (t1 - t0) / (d1 - d0))

    def describe(self):
        """`elapsed 1m05s | ETA 11m30s` (`ETA ?` until a rate is known)."""
        left = self.seconds_left()
        return (f"elapsed {format_duration(self.elapsed())} | ETA "
                + ("?" if left is None else format_duration(left)))
