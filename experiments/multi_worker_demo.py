"""Two-process `multi_worker_mirrored` training on 127.0.0.1.

Builds the sample data once, then starts two workers (TF_CONFIG with two
loopback ports), each running `official_tokendrop.train` on a tiny
token-dropping model for a few steps, and checks that both finish and that
the chief's checkpoint holds the importance table.

    .venv/bin/python experiments/multi_worker_demo.py [--steps 10]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # this process and the workers

import tensorflow as tf  # noqa: E402

from official_tokendrop.data.sample_dataset import prepare_sample_dataset  # noqa: E402


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--work_dir", default=None)
    args = parser.parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix="multi_worker_")
    data = prepare_sample_dataset(os.path.join(work, "data"), 32, 5, 2000, max_bytes=150_000)
    override = ",".join([
        "runtime.distribution_strategy=multi_worker_mirrored",
        "task.sample_data=false", "task.export=false",
        f"task.vocab_file={data.vocab_file}",
        f"task.train_data.input_path={data.train_pattern}",
        f"task.validation_data.input_path={data.validation_pattern}",
        "task.train_data.seq_length=32", "task.validation_data.seq_length=32",
        "task.train_data.max_predictions_per_seq=5", "task.validation_data.max_predictions_per_seq=5",
        "task.train_data.global_batch_size=8", "task.validation_data.global_batch_size=8",
        "task.model.encoder.any.hidden_size=32", "task.model.encoder.any.num_layers=3",
        "task.model.encoder.any.intermediate_size=64", "task.model.encoder.any.max_position_embeddings=32",
        "task.model.encoder.any.token_keep_k=16",
        f"trainer.train_steps={args.steps}", f"trainer.checkpoint_interval={args.steps}",
        "trainer.steps_per_loop=5", "trainer.summary_interval=5",
        f"trainer.validation_interval={args.steps}", "trainer.validation_steps=2",
    ])
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = os.path.join(work, "model")
    workers = []
    start = time.time()
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        log = open(os.path.join(work, f"worker_{index}.log"), "w")
        workers.append((subprocess.Popen(
            [sys.executable, "-m", "official_tokendrop.train", "--experiment=token_drop_bert/demo",
             f"--params_override={override}", "--mode=train_and_eval", f"--model_dir={model_dir}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        ), log.name))
    codes = [p.wait(timeout=600) for p, _ in workers]
    print(f"workers exited with {codes} after {time.time() - start:.0f}s")
    for _, log in workers:
        print(f"--- {log} (tail)")
        with open(log) as f:
            print("".join(f.readlines()[-8:]), end="")
    table = tf.train.load_variable(model_dir, "model/encoder/token_importance/table/.ATTRIBUTES/VARIABLE_VALUE")
    print(f"chief checkpoint: {tf.train.latest_checkpoint(model_dir)}; "
          f"table entries moved from 10.0: {int((table[5:] != 10.0).sum())}")
    return 0 if codes == [0, 0] else 1


if __name__ == "__main__":
    sys.exit(main())
