"""What the trainer's loop costs on top of the bare training step.

Builds the sample TFRecords at seq 512 / 76 predictions (sample corpus ->
WordPiece vocabulary -> converter), one `Runner` for
`token_drop_bert/pretraining` at step_time.py's `small` dims (`--preset`), and then
alternates, round by round:

- bare: the run's own compiled train step (`PretrainingTrainable.train_step`)
  called on one resident batch;
- trainer: `Runner.train` for as many steps: input pipeline from the
  TFRecords, metrics, progress lines, TensorBoard summaries every
  `--steps_per_loop` steps, a checkpoint every `--checkpoint_interval`.

Prints the median time per step of each and their ratio.

    .venv/bin/python experiments/benchmarks/trainer_overhead.py
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repository root

import tensorflow as tf  # noqa: E402
from experiments.benchmarks.step_time import PREDICTIONS, PRESETS, SEQ  # noqa: E402

from official_tokendrop.core import experiment_configs  # noqa: E402
from official_tokendrop.core.runner import Runner  # noqa: E402
from official_tokendrop.data.sample_dataset import prepare_sample_dataset  # noqa: E402
from official_tokendrop.data.vocabulary import load_vocabulary  # noqa: E402
from official_tokendrop.utils.timing import interleaved_times  # noqa: E402

KEEP = SEQ // 2  # token dropping keeps half


def build_runner(args, directory):
    data = prepare_sample_dataset(
        os.path.join(directory, "data"), SEQ, PREDICTIONS[SEQ], args.vocab_size, max_bytes=args.corpus_bytes
    )
    dims = PRESETS[args.preset]
    inputs = {"seq_length": SEQ, "max_predictions_per_seq": PREDICTIONS[SEQ],
              "global_batch_size": dims["batch"]}
    params = experiment_configs.experiment("token_drop_bert/pretraining", {
        "task": {
            "vocab_file": data.vocab_file,
            "model": {"encoder": {"any": {
                "vocab_size": len(load_vocabulary(data.vocab_file).tokens),
                "hidden_size": dims["hidden"], "num_layers": dims["layers"],
                "num_attention_heads": dims["heads"], "intermediate_size": dims["inner"],
                "token_keep_k": KEEP, "token_allow_list": [1, 2, 3, 4], "token_deny_list": [0],
            }}},
            "train_data": {"input_path": data.train_pattern, **inputs},
            "validation_data": {"input_path": data.validation_pattern, **inputs},
        },
        "trainer": {
            "train_steps": 0, "steps_per_loop": args.steps_per_loop,
            "summary_interval": args.steps_per_loop,
            "checkpoint_interval": args.checkpoint_interval,
        },
    })
    params.validate()
    strategy = tf.distribute.get_strategy()
    runner = Runner(params.task, params.trainer, params.runtime, os.path.join(directory, "model"), strategy)
    dataset = runner.task.build_inputs("train")
    return params, runner, next(iter(dataset))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small",
                        help="model dims from step_time.py (tiny: smoke tests)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps_per_round", type=int, default=20)
    parser.add_argument("--steps_per_loop", type=int, default=10)
    parser.add_argument("--checkpoint_interval", type=int, default=20)
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument("--corpus_bytes", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.steps_per_round % args.steps_per_loop or args.checkpoint_interval % args.steps_per_loop:
        parser.error("--steps_per_round and --checkpoint_interval must be multiples of "
                     "--steps_per_loop")

    with tempfile.TemporaryDirectory() as directory:
        start = time.time()
        params, runner, batch = build_runner(args, directory)
        print(f"data and model built in {time.time() - start:.0f}s; "
              f"{args.preset} {PRESETS[args.preset]}, seq {SEQ}, keep {KEEP}, vocab "
              f"{params.task.model.encoder.any.vocab_size}", flush=True)

        def bare(steps):
            for _ in range(steps):
                logs = runner.trainable.train_step(batch)
            float(logs["loss"])  # waits for the last step

        def loop(steps):
            params.trainer.train_steps = runner.step + steps
            runner.train()

        # Warm-up: compiles both paths and leaves the step at a multiple of
        # --steps_per_loop, so every round's chunks line up with the intervals.
        start = time.time()
        loop(args.steps_per_loop)
        bare(args.steps_per_loop)
        print(f"compiled in {time.time() - start:.0f}s", flush=True)

        times = interleaved_times({"bare step": bare, "trainer loop": loop}, args.rounds, args.steps_per_round,
                                  log=lambda line: print(line, flush=True))

    bare_ms, loop_ms = (1000 * statistics.median(times[n]) for n in ("bare step", "trainer loop"))
    print(f"\nbare step     {bare_ms:9.1f} ms/step")
    print(f"trainer loop  {loop_ms:9.1f} ms/step (summaries every {args.steps_per_loop}, "
          f"checkpoint every {args.checkpoint_interval} steps)")
    print(f"trainer / bare = {loop_ms / bare_ms:.3f}")


if __name__ == "__main__":
    main()
