"""Two `multi_worker_mirrored` workers on 127.0.0.1: one is killed mid-run."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import DEMO_PRED, DEMO_SEQ

pytestmark = pytest.mark.slow  # subprocesses

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
TABLE = "model/encoder/token_importance/table/.ATTRIBUTES/VARIABLE_VALUE"


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(model_dir, data, steps, log_dir, attempt, checkpoint_interval=10):
    override = ",".join([
        "runtime.distribution_strategy=multi_worker_mirrored", "task.sample_data=false", "task.export=false",
        f"task.vocab_file={data.vocab_file}", f"task.train_data.input_path={data.train_pattern}",
        f"task.validation_data.input_path={data.validation_pattern}",
        f"task.train_data.seq_length={DEMO_SEQ}", f"task.train_data.max_predictions_per_seq={DEMO_PRED}",
        "task.train_data.global_batch_size=8", f"task.validation_data.seq_length={DEMO_SEQ}",
        f"task.validation_data.max_predictions_per_seq={DEMO_PRED}",
        "task.model.encoder.any.hidden_size=32", "task.model.encoder.any.num_layers=3",
        "task.model.encoder.any.intermediate_size=64",
        f"task.model.encoder.any.max_position_embeddings={DEMO_SEQ}", "task.model.encoder.any.token_keep_k=16",
        f"trainer.train_steps={steps}", f"trainer.checkpoint_interval={checkpoint_interval}", "trainer.steps_per_loop=10",
        "trainer.summary_interval=10", "trainer.max_to_keep=3",
    ])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        log = open(os.path.join(log_dir, f"attempt{attempt}_worker{index}.log"), "w")
        workers.append((subprocess.Popen(
            [sys.executable, "-m", "official_tokendrop.train", "--experiment=token_drop_bert/demo",
             f"--params_override={override}", "--mode=train", f"--model_dir={model_dir}"],
            env=env, stdout=log, stderr=subprocess.STDOUT), log.name))
    return workers


def _read(log):
    with open(log) as f:
        return f.read()


def _wait_until(workers, condition, timeout=300):
    """Polls `condition()` while every worker is still running."""
    deadline = time.time() + timeout
    while time.time() < deadline and not condition():
        assert all(p.poll() is None for p, _ in workers), [_read(log)[-2000:] for _, log in workers]
        time.sleep(0.2)


def _finish(workers, timeout):
    """Every worker's exit status and log (any still running is killed)."""
    try:
        codes = [p.wait(timeout=timeout) for p, _ in workers]
    finally:
        for process, _ in workers:
            process.kill()
    return codes, [_read(log) for _, log in workers]


def test_killed_worker_stops_the_other_and_both_resume(demo_data, tmp_path):
    model_dir, steps = str(tmp_path / "model"), 100_000
    workers = _start(model_dir, demo_data, steps, tmp_path, 0)
    try:
        _wait_until(workers, lambda: tf.io.gfile.glob(os.path.join(model_dir, "ckpt-20.index")))
        workers[1][0].send_signal(signal.SIGKILL)
        killed = time.time()
        code = workers[0][0].wait(timeout=240)
        waited = time.time() - killed
    finally:
        for process, _ in workers:
            process.kill()
    message = _read(workers[0][1])
    assert code == 1 and waited < 120, (code, waited, message[-2000:])
    last = tf.train.latest_checkpoint(model_dir)
    step = int(last.rsplit("-", 1)[1])
    assert step >= 20
    # TensorFlow names the lost task when its heartbeat times out, not when
    # a collective is aborted first; either way one line says what to do.
    (line,) = [line for line in message.splitlines() if line.startswith("train: error:")]
    assert re.fullmatch(
        r"train: error: a worker of this multi-worker run stopped( \(/job:worker/replica:0/task:1\))?; "
        r"the run cannot continue without it\. Restart every worker with the same command: they "
        rf"resume from {re.escape(last)}\.", line), line
    assert "Traceback" not in message

    # Both restarted: they resume from the chief's last checkpoint and finish
    # with one table (the chief's copy and the other worker's are equal).
    codes, logs = _finish(_start(model_dir, demo_data, step + 20, tmp_path, 1), timeout=300)
    assert codes == [0, 0], [log[-2000:] for log in logs]
    for log in logs:
        assert f"restored {last} at step {step}" in log
    final = f"ckpt-{step + 20}"
    chief = tf.train.load_variable(os.path.join(model_dir, final), TABLE)
    other = tf.train.load_variable(os.path.join(model_dir, "worker_1_tmp", final), TABLE)
    np.testing.assert_array_equal(chief, other)
    assert (chief[5:] != 10.0).any()  # trained: the table moved from its initial value


def test_sigterm_to_one_worker_saves_one_step_on_every_worker(demo_data, tmp_path):
    """TensorFlow's preemption handler: every worker saves the same step
    after the running loop, then each ends with one line, status 1."""
    model_dir = str(tmp_path / "model")
    # No interval checkpoint: only the preemption can save.
    workers = _start(model_dir, demo_data, 100_000, tmp_path, 0, checkpoint_interval=100_000)
    try:
        _wait_until(workers, lambda: "step 20/" in _read(workers[0][1]))
        workers[1][0].send_signal(signal.SIGTERM)
        codes, logs = _finish(workers, timeout=120)
    finally:
        for process, _ in workers:
            process.kill()
    assert codes == [1, 1], [log[-2000:] for log in logs]
    last = tf.train.latest_checkpoint(model_dir)
    step = int(last.rsplit("-", 1)[1])
    assert step >= 20 and step % 10 == 0  # the end of a loop (steps_per_loop 10)
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "worker_1_tmp")).endswith(f"ckpt-{step}")
    for log in logs:
        assert "Traceback" not in log
    assert logs[0].strip().splitlines()[-1] == (
        f"train: error: stopped by SIGTERM at step {step}; saved {last}. "
        "Rerun the same command to resume from it.")
