"""The interleaved timing loop: who runs when, and seconds per step."""

import types

from official_tokendrop.utils import timing


def test_rounds_rotate_and_times_are_per_step(monkeypatch):
    clock, order, lines = [0.0], [], []
    monkeypatch.setattr(timing, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    def contender(label, seconds_per_step):
        def run(steps):
            order.append((label, steps))
            clock[0] += seconds_per_step * steps
        return run

    contenders = {"a": contender("a", 0.5), "b": contender("b", 0.25), "c": contender("c", 2.0)}
    times = timing.interleaved_times(contenders, rounds=4, steps_per_round=4, log=lines.append)
    # Each round starts at the next contender; each call runs the round's steps.
    assert [label for label, _ in order] == list("abc" "bca" "cab" "abc")
    assert {steps for _, steps in order} == {4}
    assert times == {"a": [0.5] * 4, "b": [0.25] * 4, "c": [2.0] * 4}
    assert lines[0] == "round 1/4: a 500.0 ms, b 250.0 ms, c 2000.0 ms" and len(lines) == 4
