"""The benchmark scripts run (numbers are recorded in BUILD_NOTES.md, not asserted)."""

import os
import re
import subprocess
import sys

import pytest

from official_tokendrop.models.flops import step_flops

pytestmark = pytest.mark.slow  # each builds and compiles models; most start a subprocess

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_step_time_runs_every_contender(capsys):
    from experiments.benchmarks import step_time

    step_time.main(["--preset=tiny", "--steps=1", "--rounds=1", "--compiled=eager"])
    out = capsys.readouterr().out
    for name in ("ours_baseline", "ours_token_drop", "ours_keep_all", "keras_hub_bert", "model_garden_bert"):
        assert re.search(rf"^{name}\s+\d+\.\d+", out, re.M), out
    assert "FLOP model: keep all / baseline = 1.000" in out and "measured:   keep all / baseline = " in out
    ratio = float(re.search(r"FLOP model: token drop / baseline = (\d\.\d+)", out).group(1))
    # The tiny preset (4 x 64, seq 512, keep 256): the FLOP model's ratio.
    dims = {"hidden": 64, "layers": 4, "inner": 128}
    full, drop = (step_flops(dims["hidden"], dims["layers"], dims["inner"], 512, 30522, 76, keep_k=k).training_step
                  for k in (None, 256))
    assert abs(ratio - drop / full) < 0.0005 and abs(ratio - 0.838) < 0.001


def test_trainer_overhead_runs():
    result = subprocess.run(
        [sys.executable, "experiments/benchmarks/trainer_overhead.py", "--preset=tiny", "--rounds=1",
         "--steps_per_round=2", "--steps_per_loop=1", "--checkpoint_interval=2",
         "--corpus_bytes=200000", "--vocab_size=1000"],
        capture_output=True, text=True, env=ENV, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ratio = float(re.search(r"trainer / bare = (\d+\.\d+)", result.stdout).group(1))
    assert 0.5 < ratio < 5, result.stdout
    # Two trainer steps with a checkpoint every 2 steps: one save in the round.
    assert result.stderr.count("saved checkpoint") >= 2, result.stderr[-3000:]


def test_matmul_shapes_ceiling_runs():
    result = subprocess.run(
        [sys.executable, "experiments/benchmarks/matmul_shapes.py", "--small"],
        capture_output=True, text=True, env=ENV, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    share = int(re.search(r"= (\d+)% of the peak", result.stdout).group(1))
    assert 0 < share <= 120, result.stdout
    assert len(re.findall(r"GFLOP/s \(\d+% of peak\)", result.stdout)) == 7


def test_step_time_profile_under_jax_lists_top_ops():
    result = subprocess.run(
        [sys.executable, "experiments/benchmarks/step_time.py", "--preset=tiny", "--steps=1",
         "--rounds=1", "--profile", "--dropout=0",
         "--contenders=ours_baseline,ours_token_drop,keras_hub_bert"],
        capture_output=True, text=True, env={**ENV, "KERAS_BACKEND": "jax"}, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for name in ("ours_baseline", "ours_token_drop", "keras_hub_bert"):
        section = out.split(f"top ops of one {name} step")[1].split("top ops of one")[0]
        shares = [float(s) for s in re.findall(r"ms\s+(\d+\.\d)%", section)]
        # The top ops, largest first, each a share of the step's traced time.
        assert 3 <= len(shares) <= 8 and shares == sorted(shares, reverse=True), section
        assert 0 < sum(shares) <= 100.1
