"""The paper's comparison at small scale: token dropping vs the baseline.

On `../shared/data/corpus/` (vocabulary learned from it) and one small BERT
(6 layers, hidden 128, seq 128, keep 64), trains
  1. the baseline (`bert/pretraining`) for N steps,
  2. token dropping (`token_drop_bert/pretraining`) for N steps, same data,
  3. the baseline for the steps that cost what run 2 cost (equal time),
then fine-tunes each on the two tasks of `../shared/data/tasks/` (slices,
several seeds) and writes `experiments/results/<name>/`: results.md,
results.json, commands.txt and mlm_loss_vs_time.png.

    .venv/bin/python experiments/token_drop_study.py --name small_study
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
ENCODER = dict(hidden_size=128, num_layers=6, num_attention_heads=2, intermediate_size=512,
               max_position_embeddings=128)
SEQ, PRED, BATCH = 128, 20, 32


def _run(command, log, commands):
    commands.append(" ".join(command))
    start = time.time()
    with open(log, "w") as f:
        code = subprocess.run(command, env=ENV, stdout=f, stderr=subprocess.STDOUT).returncode
    if code:
        raise SystemExit(f"failed ({code}): {' '.join(command)}; see {log}")
    return time.time() - start


def _split_corpus(corpus_dir, work, holdout_every=50):
    """Train / held-out text: every 50th line of each file is held out."""
    paths = {"train": os.path.join(work, "train.txt"), "heldout": os.path.join(work, "heldout.txt")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    files = sorted(os.path.join(corpus_dir, f) for f in os.listdir(corpus_dir) if f.endswith(".txt"))
    with open(paths["train"], "w") as train, open(paths["heldout"], "w") as heldout:
        for name in files:
            with open(name, encoding="utf-8", errors="replace") as f:
                for i, line in enumerate(f):
                    (heldout if i % holdout_every == 0 else train).write(line)
            train.write("\n")
            heldout.write("\n")
    return paths


def _override(experiment_dir_data, steps, keep, validation_interval):
    pairs = {
        "task.vocab_file": experiment_dir_data["vocab"],
        "task.train_data.input_path": experiment_dir_data["train"],
        "task.validation_data.input_path": experiment_dir_data["heldout"],
        "task.model.encoder.any.vocab_size": experiment_dir_data["vocab_size"],
        "task.model.encoder.any.token_allow_list": [1, 2, 3, 4],
        "task.model.encoder.any.token_deny_list": [0],
        "task.model.encoder.any.token_keep_k": keep,
        "trainer.train_steps": steps,
        "trainer.checkpoint_interval": steps,
        "trainer.steps_per_loop": 50,
        "trainer.summary_interval": 50,
        "trainer.validation_interval": validation_interval,
        "trainer.validation_steps": 20,
        "trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate": 1e-3,
        "trainer.optimizer_config.learning_rate.polynomial.decay_steps": steps,
        "trainer.optimizer_config.warmup.polynomial.warmup_steps": max(1, steps // 10),
        "runtime.distribution_strategy": "one_device",
    }
    for key, value in ENCODER.items():
        pairs[f"task.model.encoder.any.{key}"] = value
    for split in ("train_data", "validation_data"):
        pairs[f"task.{split}.seq_length"] = SEQ
        pairs[f"task.{split}.max_predictions_per_seq"] = PRED
        pairs[f"task.{split}.global_batch_size"] = BATCH
    nested = {}
    for key, value in pairs.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return json.dumps(nested)  # --params_override takes YAML/JSON


def _eval_curve(model_dir):
    """(train_seconds, step, mlm_loss, mlm_accuracy) of every evaluation."""
    import tensorflow as tf

    points = {}
    for path in tf.io.gfile.glob(os.path.join(model_dir, "eval", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                points.setdefault(event.step, {})[value.tag] = float(tf.make_ndarray(value.tensor))
    return [(p["train_seconds"], s, p["mlm_loss"], p["mlm_accuracy"]) for s, p in sorted(points.items())]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="small_study")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--corpus_dir", default="../shared/data/corpus")
    parser.add_argument("--tasks_dir", default="../shared/data/tasks")
    parser.add_argument("--train_examples", type=int, default=2000)
    parser.add_argument("--eval_examples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--finetune_epochs", type=int, default=2)
    parser.add_argument("--work_dir", default=None)
    args = parser.parse_args()
    out = os.path.join("experiments", "results", args.name)
    work = args.work_dir or os.path.join("/tmp", f"study_{args.name}")
    os.makedirs(out, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    commands, py = [], sys.executable
    start = time.time()

    # Data: held-out split, vocabulary from the training text, TFRecords.
    text = _split_corpus(args.corpus_dir, work)
    vocab = os.path.join(work, "vocab.txt")
    if not os.path.exists(vocab):
        _run([py, "-m", "official_tokendrop.data.vocabulary", f"--input_files={text['train']}",
              "--vocab_size=8000", "--max_lines=60000", f"--output_file={vocab}"],
             os.path.join(work, "vocab.log"), commands)
    data = {"vocab": vocab, "vocab_size": sum(1 for line in open(vocab) if line.strip())}
    for split in ("train", "heldout"):
        directory = os.path.join(work, split)
        _run([py, "-m", "official_tokendrop.data.create_pretraining_data", f"--input_files={text[split]}",
              f"--vocab_file={vocab}", f"--output_dir={directory}", f"--seq_length={SEQ}",
              f"--max_predictions_per_seq={PRED}", "--num_shards=4"],
             os.path.join(work, f"convert_{split}.log"), commands)
        data[split] = os.path.join(directory, "*.tfrecord")

    # Pretraining: baseline N, token drop N, baseline at token drop's cost.
    runs = {}

    def pretrain(name, experiment, steps, keep):
        model_dir = os.path.join(work, name)
        command = [py, "-m", "official_tokendrop.train", f"--experiment={experiment}",
                   f"--params_override={_override(data, steps, keep, max(1, steps // 5))}",
                   "--mode=train_and_eval", f"--model_dir={model_dir}"]
        seconds = _run(command, os.path.join(work, f"{name}.log"), commands)
        curve = _eval_curve(model_dir)
        runs[name] = {"steps": steps, "model_dir": model_dir, "process_seconds": seconds,
                      "train_seconds": curve[-1][0], "curve": curve,
                      "heldout_mlm_loss": curve[-1][2], "heldout_mlm_accuracy": curve[-1][3],
                      "examples_per_second": steps * BATCH / curve[-1][0]}

    pretrain("baseline", "bert/pretraining", args.steps, None)
    pretrain("token_drop", "token_drop_bert/pretraining", args.steps, SEQ // 2)
    equal_steps = int(round(args.steps * runs["token_drop"]["train_seconds"] / runs["baseline"]["train_seconds"]))
    pretrain("baseline_equal_time", "bert/pretraining", equal_steps, None)

    from official_tokendrop.flops import step_flops

    for name, run in runs.items():
        keep = SEQ // 2 if name == "token_drop" else None
        flops = step_flops(ENCODER["hidden_size"], ENCODER["num_layers"], ENCODER["intermediate_size"],
                           SEQ, data["vocab_size"], PRED, BATCH, keep_k=keep).training_step
        run["tflops_total"] = flops * run["steps"] / 1e12

    # Fine-tuning on slices of the two tasks, several seeds.
    tasks = {}
    for task in ("wn_supersense", "wn_gloss_match"):
        paths, seen = {}, None
        for split, limit in (("train", args.train_examples), ("dev", args.eval_examples), ("test", args.eval_examples)):
            paths[split] = os.path.join(work, f"{task}.{split}.tsv")
            with open(os.path.join(args.tasks_dir, f"{task}.{split}.tsv")) as f:
                lines = list(np.random.default_rng(0).permutation(f.readlines()))
            if seen is None:
                lines = lines[:limit]
                seen = {line.split("\t", 1)[0] for line in lines}
            else:
                # Rare classes absent from the training slice cannot be
                # predicted; their few dev/test examples are left out.
                lines = [line for line in lines if line.split("\t", 1)[0] in seen][:limit]
            with open(paths[split], "w") as g:
                g.writelines(lines)
        tasks[task] = paths
    for name, run in runs.items():
        preset = os.path.join(work, f"{name}_preset")
        _run([py, "-m", "official_tokendrop.export", f"--model_dir={run['model_dir']}", f"--output={preset}"],
             os.path.join(work, f"{name}_export.log"), commands)
        run["finetune"] = {}
        for task, paths in tasks.items():
            scores = []
            for seed in range(args.seeds):
                result_file = os.path.join(work, f"{name}_{task}_{seed}.json")
                _run([py, "-m", "official_tokendrop.finetune", f"--preset={preset}", f"--train={paths['train']}",
                      f"--validation={paths['dev']}", f"--test={paths['test']}", f"--output={result_file}",
                      f"--epochs={args.finetune_epochs}", "--learning_rate=1e-3", "--sequence_length=64",
                      f"--seed={seed}"],
                     os.path.join(work, f"{name}_{task}_{seed}.log"), commands)
                with open(result_file) as f:
                    scores.append(json.load(f))
            accuracy = [s["test"]["accuracy"] for s in scores]
            run["finetune"][task] = {
                "test_accuracy_mean": float(np.mean(accuracy)), "test_accuracy_std": float(np.std(accuracy)),
                "test_macro_f1_mean": float(np.mean([s["test"]["macro_f1"] for s in scores])),
                "majority_baseline": scores[0]["majority_baseline"], "seeds": accuracy,
            }

    _write_report(out, runs, args, data, time.time() - start, commands)


def _write_report(out, runs, args, data, seconds, commands):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, run in runs.items():
        t, _, loss, _ = zip(*run["curve"])
        plt.plot(t, loss, marker="o", label=f"{name} ({run['steps']} steps)")
    plt.xlabel("training seconds (2-core CPU)")
    plt.ylabel("held-out MLM loss (full encoder)")
    plt.legend()
    plt.title("Token dropping vs baseline, 6x128 BERT, seq 128")
    plt.savefig(os.path.join(out, "mlm_loss_vs_time.png"), dpi=100, bbox_inches="tight")

    base = runs["baseline"]
    # Time token dropping needs to reach the baseline's final held-out loss.
    reach = next((t for t, _, loss, _ in runs["token_drop"]["curve"] if loss <= base["heldout_mlm_loss"]), None)
    summary = {
        "encoder": ENCODER, "seq_length": SEQ, "keep_k": SEQ // 2, "batch": BATCH, "steps": args.steps,
        "vocab_size": data["vocab_size"], "study_seconds": seconds,
        "token_drop_time_to_baseline_loss_fraction": None if reach is None else reach / base["train_seconds"],
        "runs": {k: {kk: vv for kk, vv in v.items() if kk != "model_dir"} for k, v in runs.items()},
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(out, "commands.txt"), "w") as f:
        f.write("\n".join(commands) + "\n")
    rows = ["| run | steps | train s | ex/s | TFLOPs | held-out MLM loss | MLM acc | supersense acc | gloss-match acc |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, run in runs.items():
        ft = run["finetune"]
        rows.append(
            f"| {name} | {run['steps']} | {run['train_seconds']:.0f} | {run['examples_per_second']:.1f} | "
            f"{run['tflops_total']:.1f} | {run['heldout_mlm_loss']:.3f} | {run['heldout_mlm_accuracy']:.3f} | "
            + " | ".join(f"{ft[t]['test_accuracy_mean']:.3f} ± {ft[t]['test_accuracy_std']:.3f}"
                         for t in ("wn_supersense", "wn_gloss_match")) + " |")
    fraction = summary["token_drop_time_to_baseline_loss_fraction"]
    text = "\n".join([
        f"# {args.name}", "",
        f"6-layer, 128-wide BERT, seq {SEQ}, batch {BATCH}, keep {SEQ // 2}; {args.steps} steps; "
        f"fine-tuning on {args.train_examples} training examples per task, {args.seeds} seeds; "
        f"whole study {seconds / 60:.0f} min on the 2-core CPU.", "", *rows, "",
        "Token dropping reached the baseline's final held-out MLM loss at "
        + ("never (within its run)" if fraction is None else f"{fraction:.0%} of the baseline's training time") + ".",
        "", "Majority baselines: " + ", ".join(
            f"{t} {runs['baseline']['finetune'][t]['majority_baseline']:.3f}" for t in ("wn_supersense", "wn_gloss_match")),
        "", "Commands: commands.txt. Every number: results.json. Plot: mlm_loss_vs_time.png.", ""])
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
