"""SIGTERM and Ctrl-C during training: a checkpoint at the step reached,
one line naming it, and a resume that equals the uninterrupted run."""

import os
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest
import yaml

from conftest import checkpoint_state, runner, tiny_params
from official_tokendrop import train
from official_tokendrop.core import checkpoints
from official_tokendrop.core.preemption import Preempted

STEPS = 40


def _params(demo_data, preemption=True):
    # One loop for the whole run and no interval checkpoint before its end:
    # only the signal can save mid-run.
    p = tiny_params(demo_data, train_steps=STEPS)
    p.override({
        "task": {"seed": 7, "model": {"encoder": {"any": {
            "dropout_rate": 0.1, "attention_dropout_rate": 0.1, "token_keep_k": 12,
            "token_random_keep_k": 4}}}},
        "trainer": {"steps_per_loop": STEPS, "checkpoint_interval": STEPS, "summary_interval": STEPS,
                    "validation_interval": STEPS, "preemption_on_demand_checkpoint": preemption},
    })
    return p


def _signal_at(run, step, number, seen=None):
    """From another thread: sends `number` to this process once `run` is
    past `step` (recording the handler in force then into `seen`)."""
    def watch():
        while run.step < step:
            time.sleep(0.001)
        if seen is not None:
            seen.append(signal.getsignal(signal.SIGTERM))
            return
        os.kill(os.getpid(), number)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# SIGTERM also checks the resume: three runs, so slow.
@pytest.mark.parametrize("number", [pytest.param(signal.SIGTERM, marks=pytest.mark.slow), signal.SIGINT])
def test_signal_saves_the_step_reached_and_the_resume_is_exact(demo_data, tmp_path, number):
    straight, stopped = str(tmp_path / "straight"), str(tmp_path / "stopped")
    if number == signal.SIGTERM:
        train.run(_params(demo_data), straight, "train")
    before = signal.getsignal(number)
    keras.utils.set_random_seed(7)  # as train.run does for task.seed
    run = runner(_params(demo_data), stopped)
    run.restore()
    _signal_at(run, 10, number)
    with pytest.raises(Preempted) as stop:
        run.run("train")
    step = run.step
    # Stopped inside the one loop, within a few steps of the signal.
    assert 10 <= step < 25, step
    path = os.path.join(stopped, f"ckpt-{step}")
    assert str(stop.value) == (f"stopped by {signal.Signals(number).name} at step {step}; saved {path}. "
                               "Rerun the same command to resume from it.")
    assert checkpoints.candidates(stopped) == [path]
    assert signal.getsignal(number) is before  # the handlers are put back
    if number != signal.SIGTERM:
        return
    results = train.run(_params(demo_data), stopped, "train")
    assert results["step"] == STEPS
    a, b = checkpoint_state(straight, STEPS), checkpoint_state(stopped, STEPS)
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], atol=1e-5, err_msg=name)


def test_preemption_checkpoint_off_keeps_the_signal_handlers(demo_data, tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    seen = []
    run = runner(_params(demo_data, preemption=False), str(tmp_path / "run"))
    run.restore()
    watcher = _signal_at(run, 5, signal.SIGTERM, seen)
    assert run.run("train")["step"] == STEPS
    watcher.join()
    assert seen == [before]


@pytest.mark.slow
def test_sigterm_to_the_program_prints_one_line_and_exits_non_zero(demo_data, tmp_path):
    """The CLI on SIGTERM: one line naming the checkpoint, status 1, no traceback."""
    from conftest import tiny_overrides

    model_dir = str(tmp_path / "run")
    override = tiny_overrides(demo_data, train_steps=100_000)
    override["trainer"].update(steps_per_loop=100_000, checkpoint_interval=100_000)
    config = tmp_path / "override.yaml"
    config.write_text(yaml.safe_dump(override))
    stdout = tmp_path / "stdout.txt"
    with open(stdout, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "official_tokendrop.train", "--experiment=token_drop_bert/demo",
             f"--config_file={config}", "--mode=train", f"--model_dir={model_dir}"],
            stdout=out, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"})
    try:
        # Orbit prints this once training starts, inside the signal handling.
        deadline = time.time() + 120
        while "training until step" not in stdout.read_text() and time.time() < deadline:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.1)
        time.sleep(1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1, err
    (path,) = checkpoints.candidates(model_dir)
    step = int(path.rsplit("-", 1)[1])
    assert step > 0
    assert err.strip().splitlines()[-1] == (
        f"train: error: stopped by SIGTERM at step {step}; saved {path}. "
        "Rerun the same command to resume from it.")
    assert "Traceback" not in err
