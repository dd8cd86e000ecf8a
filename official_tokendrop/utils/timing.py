"""Interleaved timing: contenders take turns, round by round, so that what
else the machine does slows them all alike.

What the step-time benchmarks, the trainer-overhead benchmark and the
study's step-seconds are measured with.
"""

import time


def interleaved_times(contenders, rounds, steps_per_round, log=print):
    """Seconds per step of each contender in each round.

    Args:
        contenders: dict, label -> `run(steps)`, a callable that runs
            `steps` steps and returns once the last one is done (so a
            caller of an asynchronous step waits on its result there).
            Compile or warm each one up before: every call is timed.
        rounds: int, the number of rounds; each round runs every contender
            once, starting with the next one (A B C, B C A, C A B, ...), so
            none always runs right after the same neighbour (caches,
            allocator, clocks).
        steps_per_round: int, the steps of each contender in a round.
        log: callable taking one line, called after every round with each
            contender's time per step in it.

    Returns:
        dict, label -> list of `rounds` floats: the seconds per step of
        that contender in each round.

    Example:
    >>> times = interleaved_times({"a": lambda n: None, "b": lambda n: None}, 2, 5, log=lambda line: None)
    >>> [len(t) for t in times.values()]
    [2, 2]
    """
    labels = list(contenders)
    times = {label: [] for label in labels}
    for index in range(rounds):
        shift = index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            start = time.perf_counter()
            contenders[label](steps_per_round)
            times[label].append((time.perf_counter() - start) / steps_per_round)
        log(f"round {index + 1}/{rounds}: "
            + ", ".join(f"{label} {1000 * times[label][-1]:.1f} ms" for label in labels))
    return times
