"""Progress lines: durations and time-left estimates, hand-computed."""

from official_tokendrop.utils.progress import Eta, format_duration


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_format_duration():
    assert [format_duration(s) for s in (0, 12, 59.6, 185, 3599, 3725, 90000)] == [
        "0s", "12s", "1m00s", "3m05s", "59m59s", "1h02m", "25h00m"]


def test_eta_uses_the_recent_rate_and_ignores_the_start():
    clock = FakeClock()
    eta = Eta(total=100, window=2, clock=clock)
    clock.now = 30.0  # the first update ends a slow start (compilation)
    eta.update(5)
    assert eta.seconds_left() is None and eta.describe() == "elapsed 30s | ETA ?"
    clock.now = 40.0
    eta.update(15)  # 10 units in 10 s
    assert eta.seconds_left() == 85.0
    clock.now = 45.0
    eta.update(35)  # window of 2 intervals: 30 units in 15 s = 2/s
    assert eta.seconds_left() == 32.5
    clock.now = 50.0
    eta.update(45)  # the first interval left the window: 30 units in 10 s
    assert abs(eta.seconds_left() - 55 / 3) < 1e-12
    assert eta.describe() == "elapsed 50s | ETA 18s"
    clock.now = 60.0
    eta.update(100)
    assert eta.seconds_left() == 0.0
