"""Token dropping against its controls, at a scale where the models learn.

On `../shared/data/corpus/` (every 50th line held out, a WordPiece
vocabulary learned from the rest) and one small BERT, trains these arms on
the same data order (one experiment seed):

  baseline             the dense model, N steps
  token_drop           token dropping (keep half), N steps
  baseline_equal_cost  the dense model for the steps that cost what
                       token_drop's N steps cost (measured step-seconds)
  small_dense          a shallower dense model at token_drop's cost
  no_pretraining       the baseline architecture, randomly initialised

and, when named in --runs, variants beyond the paper (token_drop plus):

  random               a fresh random choice of kept tokens per step
  frequency            the rarest ids kept (the paper's frequency ablation)
  schedule             keep a quarter of the tokens for half the steps,
                       then half
  hybrid               every 4th step runs the full encoder (ScTD-style)

Cost is counted on two noise-free axes: FLOPs from `official_tokendrop.models.flops`
and step-seconds (each step at the seconds of its training mode, measured
for all arms and modes in one interleaved benchmark before pretraining
starts, so the long runs may share the machine with light work). The held-out MLM loss (full
encoder) is evaluated `--evaluations` times per run next to the unigram
predictor's loss on the same masked positions. Each model is then
fine-tuned on the tasks of `../shared/data/tasks/` with several seeds.

Writes `experiments/results/<name>/`: results.json (every number),
results.md, commands.txt and two plots. A rerun reuses finished work
(data, benchmark, finished runs, exports, fine-tunes) and resumes an
interrupted run from its last checkpoint.

    .venv/bin/python experiments/token_drop_study.py --name=study_6x128
"""

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # this process reads TFRecords and benchmarks

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from official_tokendrop.core import experiment_configs  # noqa: E402
from official_tokendrop.core.pretrainers import build_pretrainer  # noqa: E402
from official_tokendrop.core.runner import Runner  # noqa: E402
from official_tokendrop.data.pretrain_dataloader import pretrain_dataset  # noqa: E402
from official_tokendrop.data.task_rows import read_task_file, write_task_file  # noqa: E402
from official_tokendrop.errors import TokenDropError  # noqa: E402
from official_tokendrop.interop.keras_hub import to_keras_hub_masked_lm  # noqa: E402
from official_tokendrop.models.flops import step_flops  # noqa: E402

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
ARMS = ("baseline", "token_drop", "baseline_equal_cost", "small_dense", "no_pretraining")
# Variants: token_drop's encoder keys plus these (a function of the scale).
VARIANTS = {
    "random": lambda s: {"token_selection": "random"},
    "frequency": lambda s: {"token_selection": "frequency"},
    "schedule": lambda s: {"token_keep_k": s.seq // 4, "token_keep_k_schedule": [
        {"start_step": max(1, s.steps // 2), "keep_k": s.seq // 2}]},
    "hybrid": lambda s: {"token_full_step_every": 4},
}
PRETRAINED = ARMS[:4]
TRAINED = PRETRAINED + tuple(VARIANTS)  # every arm that pretrains
SEEDED = ARMS[:2]  # the arms pretrained with --pretrain_seeds seeds
TASKS = {"wn_supersense": 32, "wn_gloss_match": 48}  # task -> fine-tuning sequence length
ALLOW, DENY = [1, 2, 3, 4], [0]  # [UNK] [CLS] [SEP] [MASK] / [PAD] of our vocabularies


@dataclasses.dataclass(frozen=True)
class Scale:
    """Model, data and schedule of one study size."""

    hidden: int
    layers: int
    heads: int
    inner: int
    seq: int
    predictions: int
    batch: int
    steps: int
    learning_rate: float
    dropout: float
    vocab_size: int
    vocab_lines: int
    dupe_factor: int  # copies of the training text, each masked anew
    eval_batches: int
    finetune_examples: int
    finetune_eval_examples: int
    finetune_epochs: int
    finetune_learning_rate: float
    bench_rounds: int
    bench_steps: int
    xla: bool = True  # the trainer's XLA step (runtime.enable_xla)


SCALES = {
    # 6 x 128: 3 of 6 layers see half the tokens, a 22% FLOP saving; see
    # BUILD_NOTES.md for why not 12 layers on this budget.
    "study": Scale(hidden=128, layers=6, heads=2, inner=512, seq=128, predictions=20, batch=32,
                   steps=3000, learning_rate=1e-3, dropout=0.0, vocab_size=8000, vocab_lines=60000, dupe_factor=2,
                   eval_batches=16, finetune_examples=5000, finetune_eval_examples=2000,
                   finetune_epochs=3, finetune_learning_rate=1e-3, bench_rounds=5, bench_steps=5),
    # The CI smoke run: seconds per stage.
    "tiny": Scale(hidden=32, layers=4, heads=2, inner=64, seq=32, predictions=5, batch=8,
                  steps=20, learning_rate=1e-3, dropout=0.0, vocab_size=400, vocab_lines=2000, dupe_factor=1,
                  eval_batches=2, finetune_examples=64, finetune_eval_examples=32,
                  finetune_epochs=1, finetune_learning_rate=1e-3, bench_rounds=2, bench_steps=1,
                  xla=False),  # compiling costs more than 20 tiny steps
}


class StudyError(ValueError):
    """Bad input to the study: reported as one line."""


# === Pure helpers (tested) ===
def unigram_cross_entropy(train_labels, train_weights, eval_labels, eval_weights, vocab_size):
    """Held-out loss of predicting each masked token by its training frequency.

    Frequencies are counted over the training split's weighted masked
    labels with add-one smoothing over the vocabulary; the loss is the
    weighted mean negative log-probability of the held-out labels.
    """
    counts = np.bincount(np.ravel(train_labels), weights=np.ravel(train_weights), minlength=vocab_size)
    log_p = np.log(counts + 1.0) - np.log(counts.sum() + vocab_size)
    weights = np.ravel(eval_weights)
    return float(-np.sum(log_p[np.ravel(eval_labels)] * weights) / np.sum(weights))


def first_reach(steps, losses, target):
    """Fractional step where the curve first reaches `target` (linear between
    evaluations), or None. The curve starts at step 0 with no loss reached."""
    previous_step, previous_loss = None, None
    for step, loss in zip(steps, losses):
        if loss <= target:
            if previous_step is None or previous_loss == loss:
                return float(step)
            fraction = (previous_loss - target) / (previous_loss - loss)
            return float(previous_step + fraction * (step - previous_step))
        previous_step, previous_loss = step, loss
    return None


def closest_dense_layers(scale, vocab_size):
    """Layer count of the dense model whose step FLOPs are nearest token_drop's."""
    def flops(layers, keep):
        return step_flops(scale.hidden, layers, scale.inner, scale.seq, vocab_size, scale.predictions,
                          scale.batch, keep_k=keep).training_step

    target = flops(scale.layers, scale.seq // 2)
    return min(range(1, scale.layers), key=lambda layers: abs(flops(layers, None) - target))


def masked_labels(pattern, s, batches=None):
    """(masked ids, their weights) of the TFRecords `pattern` at scale `s`
    (the first `batches` batches; all by default)."""
    data = pretrain_dataset(pattern, s.batch, s.seq, s.predictions, is_training=False)
    ids, weights = [], []
    for i, batch in enumerate(data):
        if batches is not None and i >= batches:
            break
        ids.append(batch["masked_lm_ids"].numpy())
        weights.append(batch["masked_lm_weights"].numpy())
    if batches is not None and len(ids) < batches:
        raise StudyError(f"held-out data gives {len(ids)} full batches of {s.batch}; "
                         f"the evaluation needs {batches}.")
    return np.concatenate(ids), np.concatenate(weights)


def time_training_modes(contenders, rounds, per_round, log):
    """{(arm, mode): seconds per step of each round}: `per_round` steps of
    each contender's trainable on its resident batch, in `rounds`
    interleaved rounds (each starting at the next contender)."""
    labels, times = list(contenders), {label: [] for label in contenders}
    for trainable, batch, step in contenders.values():  # compiles every mode
        trainable.optimizer.iterations.assign(step)
        float(trainable.train_step(batch)["loss"])
    for r in range(rounds):
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            trainable, batch, step = contenders[label]
            start = time.perf_counter()
            for _ in range(per_round):
                trainable.optimizer.iterations.assign(step)  # stays in this mode
                logs = trainable.train_step(batch)
            float(logs["loss"])  # waits for the last step
            times[label].append((time.perf_counter() - start) / per_round)
        log(f"benchmark round {r + 1}/{rounds}: " + ", ".join(
            f"{n}{'' if m == 0 else f'[mode {m}]'} {1000 * times[(n, m)][-1]:.0f} ms" for n, m in labels))
    return times


# === Inputs ===
def parse_runs(text):
    runs = [r for r in text.split(",") if r]
    known = ARMS + tuple(VARIANTS)
    unknown = [r for r in runs if r not in known]
    if unknown:
        raise StudyError(f"--runs: unknown run {unknown[0]!r}; choose from {', '.join(known)}.")
    needs = {"baseline_equal_cost": "token_drop", "small_dense": "token_drop"}
    for run, needed in needs.items():
        if run in runs and needed not in runs:
            raise StudyError(f"--runs: {run} is sized by {needed}'s cost; add {needed}.")
    if any(r in runs for r in ("token_drop", "baseline_equal_cost", "small_dense", *VARIANTS)) \
            and "baseline" not in runs:
        raise StudyError("--runs: the comparisons need baseline; add it.")
    return [r for r in known if r in runs]


def parse_tasks(text, tasks_dir):
    tasks = [t for t in text.split(",") if t]
    for task in tasks:
        if task not in TASKS:
            raise StudyError(f"--tasks: unknown task {task!r}; choose from {', '.join(TASKS)}.")
        for split in ("train", "dev", "test"):
            read_task_file(os.path.join(tasks_dir, f"{task}.{split}.tsv"))
    return tasks


def corpus_files(corpus_dir):
    if not os.path.isdir(corpus_dir):
        raise StudyError(f"--corpus_dir {corpus_dir} is not a directory.")
    files = sorted(os.path.join(corpus_dir, f) for f in os.listdir(corpus_dir) if f.endswith(".txt"))
    if not files:
        raise StudyError(f"--corpus_dir {corpus_dir} holds no .txt files.")
    return files


# === The study ===
class Study:
    def __init__(self, args, scale, runs, tasks):
        self.args, self.scale, self.runs, self.tasks = args, scale, runs, tasks
        self.work = args.work_dir
        self.out = os.path.join(args.results_dir, args.name)
        self.py = sys.executable
        self.start = time.time()
        os.makedirs(self.work, exist_ok=True)
        os.makedirs(self.out, exist_ok=True)

    def log(self, message):
        print(f"[{(time.time() - self.start) / 60:5.1f} min] {message}", flush=True)

    def run(self, command, log_name):
        # Kept in the work dir, so a rerun that reuses finished stages still
        # reports every command that produced its numbers.
        with open(os.path.join(self.work, "commands.log"), "a") as f:
            f.write(" ".join(command) + "\n")
        log = os.path.join(self.work, log_name)
        start = time.time()
        with open(log, "w") as f:
            code = subprocess.run(command, env=ENV, stdout=f, stderr=subprocess.STDOUT).returncode
        if code:
            with open(log) as f:
                tail = f.read().strip().splitlines()[-1:] or [""]
            raise StudyError(f"step failed ({code}): {' '.join(command[:3])} ...: {tail[0]} (log: {log})")
        return time.time() - start

    # --- data ---
    def prepare_data(self, files):
        s = self.scale
        text = {split: os.path.join(self.work, f"{split}.txt") for split in ("train", "heldout")}
        if not all(os.path.exists(p) for p in text.values()):
            with open(text["train"] + ".tmp", "w") as train, open(text["heldout"] + ".tmp", "w") as heldout:
                for name in files:
                    with open(name, encoding="utf-8", errors="replace") as f:
                        for i, line in enumerate(f):
                            if self.args.corpus_lines and i >= self.args.corpus_lines:
                                break
                            (heldout if i % 50 == 0 else train).write(line)
                    train.write("\n")
                    heldout.write("\n")
            for p in text.values():
                os.replace(p + ".tmp", p)
        vocab = os.path.join(self.work, "vocab.txt")
        if not os.path.exists(vocab):
            self.run([self.py, "-m", "official_tokendrop.data.vocabulary", f"--input_files={text['train']}",
                      f"--vocab_size={s.vocab_size}", f"--max_lines={s.vocab_lines}",
                      f"--output_file={vocab}"], "vocab.log")
        self.vocab = vocab
        self.vocab_size = sum(1 for line in open(vocab) if line.strip())
        self.data = {}
        for split in ("train", "heldout"):
            directory = os.path.join(self.work, split)
            if not os.path.exists(os.path.join(directory, "dataset_config.json")) or any(
                    f.endswith(".incomplete") for f in os.listdir(directory)):
                self.run([self.py, "-m", "official_tokendrop.data.create_pretraining_data",
                          f"--input_files={text[split]}", f"--vocab_file={vocab}", f"--output_dir={directory}",
                          f"--seq_length={s.seq}", f"--max_predictions_per_seq={s.predictions}",
                          "--num_shards=4", f"--dupe_factor={s.dupe_factor if split == 'train' else 1}",
                          f"--random_seed={self.args.seed}"], f"convert_{split}.log")
            self.data[split] = os.path.join(directory, "*.tfrecord")
        self.log(f"data ready: vocabulary {self.vocab_size} tokens, TFRecords under {self.work}")

    def unigram(self):
        """The unigram predictor's loss on exactly the evaluated masked positions."""
        s = self.scale
        train = masked_labels(self.data["train"], s)
        heldout = masked_labels(self.data["heldout"], s, s.eval_batches)
        loss = unigram_cross_entropy(*train, *heldout, self.vocab_size)
        self.log(f"unigram held-out loss {loss:.4f} ({int(heldout[1].sum())} masked positions)")
        return loss

    # --- configuration of one arm ---
    def arm(self, name, steps=None):
        """(experiment, layers, keep_k, steps) of an arm."""
        s = self.scale
        if name == "token_drop" or name in VARIANTS:
            return "token_drop_bert/pretraining", s.layers, s.seq // 2, s.steps
        layers = self.dense_layers if name == "small_dense" else s.layers
        return "bert/pretraining", layers, None, steps or s.steps

    def run_name(self, name, seed):
        """Model-dir (and fine-tune) name of `name` pretrained with `seed`."""
        return name if seed == self.args.seed else f"{name}_seed{seed}"

    def params_override(self, name, steps, seed=None):
        s = self.scale
        experiment, layers, keep, steps = self.arm(name, steps)
        interval = max(1, math.ceil(steps / self.args.evaluations))
        data = {"seq_length": s.seq, "max_predictions_per_seq": s.predictions, "global_batch_size": s.batch}
        return experiment, {
            "task": {
                "seed": self.args.seed if seed is None else seed,
                "vocab_file": self.vocab,
                "model": {"encoder": {"any": {
                    "vocab_size": self.vocab_size, "hidden_size": s.hidden, "num_layers": layers,
                    "num_attention_heads": s.heads, "intermediate_size": s.inner,
                    "max_position_embeddings": s.seq, "dropout_rate": s.dropout,
                    "attention_dropout_rate": s.dropout, "token_keep_k": keep,
                    "token_allow_list": ALLOW, "token_deny_list": DENY,
                    **(VARIANTS[name](s) if name in VARIANTS else {}),
                }}},
                "train_data": {"input_path": self.data["train"], **data},
                "validation_data": {"input_path": self.data["heldout"], **data},
            },
            "trainer": {
                "train_steps": steps, "checkpoint_interval": interval, "max_to_keep": 2,
                "steps_per_loop": interval, "summary_interval": interval,
                "validation_interval": interval, "validation_steps": s.eval_batches,
                "optimizer_config": {
                    "learning_rate": {"polynomial": {"initial_learning_rate": s.learning_rate,
                                                     "decay_steps": steps}},
                    # One warm-up length for every arm: the runs differ only after it.
                    "warmup": {"polynomial": {"warmup_steps": max(1, s.steps // 10)}},
                },
            },
            "runtime": {"distribution_strategy": "one_device", "enable_xla": s.xla},
        }

    def params(self, name, steps, seed=None):
        """The arm's experiment config."""
        return experiment_configs.experiment(*self.params_override(name, steps, seed))

    def encoder(self, name):
        """The arm's encoder (what its steps cost is its to say)."""
        return build_pretrainer(self.params(name, self.scale.steps).task).encoder

    def cost(self, name, mode_seconds):
        s = self.scale
        return ArmCost(self.encoder(name), mode_seconds, s.seq, s.predictions, s.batch)

    # --- interleaved step-time benchmark ---
    def benchmark(self):
        """Seconds per step of every training mode of every timed arm, all
        in one interleaved benchmark (one mode for a plain arm)."""
        path = os.path.join(self.work, "step_seconds.json")
        names = [n for n in ("baseline", "token_drop", "small_dense", *VARIANTS) if n in self.runs]
        if os.path.exists(path):
            with open(path) as f:
                cached = json.load(f)
            if set(names) <= set(cached["step_seconds"]):
                return cached
        contenders = {}
        with tempfile.TemporaryDirectory() as directory:
            for name in names:
                params = self.params(name, self.scale.steps)
                params.validate()
                runner = Runner(params.task, params.trainer, params.runtime, os.path.join(directory, name),
                                tf.distribute.get_strategy())
                trainer = runner.trainable
                batch = next(iter(runner.task.build_inputs("train")))
                encoder = trainer.model.encoder
                # A step of each mode: the first step the run takes in it.
                index = np.asarray(encoder.training_mode_index(np.arange(self.scale.steps)))
                for mode in range(len(encoder.training_modes)):
                    label = (name, mode)
                    contenders[label] = (trainer, batch, int(np.argmax(index == mode)))
            rounds, per_round = self.scale.bench_rounds, self.scale.bench_steps
            load = os.getloadavg()[0]
            times = time_training_modes(contenders, rounds, per_round, self.log)
        labels = list(contenders)
        modes = {n: [statistics.median(times[(n, m)]) for m in range(1 + max(m for k, m in labels if k == n))]
                 for n in names}
        result = {"step_seconds": {n: v[0] for n, v in modes.items()}, "mode_seconds": modes,
                  "rounds": {f"{n}" if m == 0 else f"{n}[mode {m}]": t for (n, m), t in times.items()},
                  "steps_per_round": per_round, "load_before": load, "load_after": os.getloadavg()[0]}
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
        return result

    # --- pretraining ---
    def pretrain(self, name, steps, seed):
        label = self.run_name(name, seed)
        model_dir = os.path.join(self.work, label)
        results_file = os.path.join(model_dir, "eval_results.json")
        wall_file = os.path.join(model_dir, "wall_seconds.json")
        done = os.path.exists(results_file) and json.load(open(results_file))["step"] >= steps
        if not done:
            experiment, override = self.params_override(name, steps, seed)
            self.log(f"pretraining {label}: {steps} steps ({experiment}, seed {seed})")
            wall = self.run([self.py, "-m", "official_tokendrop.train", f"--experiment={experiment}",
                             f"--params_override={json.dumps(override)}", "--mode=train_and_eval",
                             f"--model_dir={model_dir}"], f"{label}.log")
            previous = json.load(open(wall_file)) if os.path.exists(wall_file) else 0.0
            with open(wall_file, "w") as f:
                json.dump(previous + wall, f)
        curve = eval_curve(model_dir)
        self.log(f"{label}: held-out MLM loss {curve[-1][1]:.4f} at step {curve[-1][0]}")
        return {"steps": steps, "seed": seed, "curve": curve, "final_heldout_loss": curve[-1][1],
                "wall_seconds": json.load(open(wall_file))}

    def extra_seeds(self):
        return [self.args.seed + k for k in range(1, self.args.pretrain_seeds)] if any(
            r in SEEDED for r in self.runs) else []

    # --- everything ---
    def __call__(self, files):
        self.prepare_data(files)
        self.dense_layers = closest_dense_layers(self.scale, self.vocab_size)
        unigram = self.unigram()
        bench = self.benchmark() if any(r in TRAINED for r in self.runs) else {"step_seconds": {}}
        runs, extra_seeds = self.pretrain_arms(*self.step_budget(bench))
        if "no_pretraining" in self.runs:
            runs["no_pretraining"] = {"steps": 0, "step_seconds": 0.0, "train_seconds": 0.0, "wall_seconds": 0.0,
                                      "flops": 0, "final_heldout_loss": None, "seconds_to_baseline_loss": None,
                                      "flops_to_baseline_loss": None, "layers": self.scale.layers, "keep_k": None}
        FineTuning(self).rounds(unigram, runs, bench, extra_seeds)
        if not self.tasks:
            Report(self, unigram, runs, {}, bench).write()

    def step_budget(self, bench):
        """(steps of each arm, seconds per step of each of its training
        modes): the equal-cost arms run token_drop's step-seconds."""
        s = self.scale
        seconds = dict(bench["step_seconds"])
        mode_seconds = {n: bench.get("mode_seconds", {}).get(n, [t]) for n, t in seconds.items()}
        if "baseline" in seconds:
            seconds["baseline_equal_cost"] = seconds["baseline"]
            mode_seconds["baseline_equal_cost"] = mode_seconds["baseline"]
        td_cost = seconds.get("token_drop", 0) * s.steps
        steps = {"baseline": s.steps, "token_drop": s.steps, **{v: s.steps for v in VARIANTS},
                 "baseline_equal_cost": round(td_cost / seconds["baseline"]) if td_cost else None,
                 "small_dense": round(td_cost / seconds["small_dense"]) if "small_dense" in seconds else None}
        return steps, mode_seconds

    def pretrain_arms(self, steps, mode_seconds):
        """Pretrains every trained arm (and the further seeds of the main
        two); returns (runs with their costs, the further seeds)."""
        args, s = self.args, self.scale
        runs, self.costs = {}, {}
        for name in (r for r in self.runs if r in TRAINED):
            run = self.pretrain(name, steps[name], args.seed)
            cost = self.costs[name] = self.cost(name, mode_seconds[name])
            run.update(cost.totals(steps[name]), layers=cost.encoder.num_layers, keep_k=cost.encoder.token_keep_k)
            if name in VARIANTS:
                run["variant"] = VARIANTS[name](s)
            runs[name] = run
        # Further pretraining seeds of the two main arms, after every arm's
        # first seed so that a short budget still completes one comparison.
        extra_seeds = self.extra_seeds()
        for seed in extra_seeds:
            for name in (r for r in self.runs if r in SEEDED):
                runs[name].setdefault("other_seeds", {})[str(seed)] = self.pretrain(name, steps[name], seed)
        if "baseline" in runs:
            for name, run in runs.items():
                reach_baseline(run, runs["baseline"], self.costs[name], self.costs["baseline"])
            for seed in map(str, extra_seeds):
                for name, run in runs.items():
                    if seed in run.get("other_seeds", {}):
                        reach_baseline(run["other_seeds"][seed], runs["baseline"]["other_seeds"][seed],
                                       self.costs[name], self.costs["baseline"])
        return runs, extra_seeds


class FineTuning:
    """The fine-tuning stage of a study: task slices, presets (exported or
    randomly initialised) and the fine-tunes, in rounds."""

    def __init__(self, study):
        self.study = study

    def export(self, name):
        """`name`'s model_dir as a keras-hub preset (exported once)."""
        preset = os.path.join(self.study.work, name, "export")
        if not os.path.exists(os.path.join(preset, "config.json")):
            self.study.run([self.study.py, "-m", "official_tokendrop.export", f"--model_dir={os.path.join(self.study.work, name)}",
                      f"--output={preset}"], f"{name}_export.log")
        return preset

    def random_preset(self, seed):
        """The baseline architecture, randomly initialised with `seed`, as a preset."""
        preset = os.path.join(self.study.work, "no_pretraining", f"export_seed{seed}")
        if os.path.exists(os.path.join(preset, "config.json")):
            return preset
        params = self.study.params("baseline", self.study.scale.steps, seed)
        # The study's own record: this step runs here, not as a command.
        with open(os.path.join(self.study.work, "commands.log"), "a") as f:
            f.write(f"# {preset}: build_pretrainer(baseline task, seed {seed}) -> keras-hub preset\n")
        keras.utils.set_random_seed(seed)  # initialisation of this model only
        model = build_pretrainer(params.task)
        to_keras_hub_masked_lm(model, params.task.vocab_file, params.task.train_data.seq_length
                               ).save_to_preset(preset)
        return preset

    def task_slices(self, task):
        s, paths, seen = self.study.scale, {}, None
        for split, limit in (("train", s.finetune_examples), ("dev", s.finetune_eval_examples),
                             ("test", s.finetune_eval_examples)):
            paths[split] = os.path.join(self.study.work, "tasks", f"{task}.{split}.tsv")
            os.makedirs(os.path.dirname(paths[split]), exist_ok=True)
            rows = read_task_file(os.path.join(self.study.args.tasks_dir, f"{task}.{split}.tsv"))
            order = np.random.default_rng(0).permutation(len(rows))
            if seen is None:
                order = order[:limit]
                seen = {rows.labels[i] for i in order}
            else:
                # Classes absent from the training slice cannot be predicted;
                # their few dev/test examples are left out.
                order = [i for i in order if rows.labels[i] in seen][:limit]
            write_task_file(paths[split], rows.subset(order))
        return paths

    def finetune(self, arm, preset, task, paths, seed):
        s = self.study.scale
        result_file = os.path.join(self.study.work, "finetune", f"{arm}.{task}.seed{seed}.json")
        os.makedirs(os.path.dirname(result_file), exist_ok=True)
        if not os.path.exists(result_file):
            self.study.run([self.study.py, "-m", "official_tokendrop.finetune", f"--preset={preset}",
                      f"--train={paths['train']}", f"--validation={paths['dev']}", f"--test={paths['test']}",
                      f"--output={result_file}.tmp", f"--epochs={s.finetune_epochs}",
                      f"--learning_rate={s.finetune_learning_rate}", f"--sequence_length={min(TASKS[task], s.seq)}",
                      f"--seed={seed}"], f"finetune_{arm}.{task}.seed{seed}.log")
            os.replace(result_file + ".tmp", result_file)
        with open(result_file) as f:
            return json.load(f)

    def rounds(self, unigram, runs, bench, extra_seeds):
        """Fine-tuning in rounds, the experiment seed's models first (with
        the control), then each further pretraining seed's; a report after
        every task of every round, so a study stopped midway keeps its tables."""
        args, results = self.study.args, {}  # arm -> task -> pretraining seed -> [fine-tune results]
        slices = {task: self.task_slices(task) for task in self.study.tasks}
        for round_seed in ([args.seed] + extra_seeds) if self.study.tasks else []:
            for task in self.study.tasks:
                for arm in self.study.runs:
                    if arm == "no_pretraining" and round_seed == args.seed:
                        got = {str(seed): [self.finetune(arm, self.random_preset(seed), task, slices[task], seed)]
                               for seed in range(args.control_seeds)}
                    elif arm != "no_pretraining" and (round_seed == args.seed or arm in SEEDED):
                        label = self.study.run_name(arm, round_seed)
                        got = {str(round_seed): [self.finetune(label, self.export(label), task, slices[task], f)
                                                 for f in range(args.finetune_seeds)]}
                    else:
                        continue
                    results.setdefault(arm, {}).setdefault(task, {}).update(got)
                    scores = [r["test"]["accuracy"] for r in sum(got.values(), [])]
                    self.study.log(f"fine-tuned {arm} (pretraining seed {round_seed}) on {task}: "
                             f"{np.mean(scores):.3f} ± {np.std(scores):.3f} ({len(scores)} fine-tunes)")
                Report(self.study, unigram, runs, finetune_summary(results), bench).write()


def finetune_summary(results):
    """arm -> task -> test accuracy mean, std and scores over every
    (pretraining seed, fine-tuning seed), and the scores by pretraining seed."""
    summary = {}
    for arm, tasks in results.items():
        for task, by_seed in tasks.items():
            scores = [r["test"]["accuracy"] for seed in by_seed for r in by_seed[seed]]
            summary.setdefault(arm, {})[task] = {
                "mean": float(np.mean(scores)), "std": float(np.std(scores)), "seeds": scores,
                "by_pretraining_seed": {seed: [r["test"]["accuracy"] for r in v] for seed, v in by_seed.items()},
                "majority_baseline": next(iter(by_seed.values()))[0]["majority_baseline"]}
    return summary


class ArmCost:
    """Step-seconds and FLOPs of an arm's first `step` steps, each step at
    its training mode (schedule stage, full step); a fractional step takes
    that share of the next step's cost."""

    def __init__(self, encoder, mode_seconds, seq, predictions, batch):
        self.encoder, self.mode_seconds = encoder, list(mode_seconds)
        self.seq, self.predictions, self.batch = seq, predictions, batch

    def _run_cost(self, step, steps_cost):
        """`steps_cost(first, last)` of the steps `[0, step)`, the last one
        possibly a fraction of a step."""
        whole = int(math.floor(step))
        part = step - whole
        total = steps_cost(0, whole)
        return total + part * steps_cost(whole, whole + 1) if part else total

    def seconds(self, step):
        schedule = self.encoder.schedule
        return self._run_cost(step, lambda first, last: schedule.run_cost(
            first, last, lambda index: self.mode_seconds[index]))

    def flops(self, step):
        # Imported here, as the module's other TensorFlow users: the study
        # process sets TensorFlow's log level before anything loads it.
        from official_tokendrop.models.flops import encoder_run_flops

        return self._run_cost(step, lambda first, last: encoder_run_flops(
            self.encoder, self.seq, self.predictions, self.batch, first, last))

    def totals(self, steps):
        """The run's train_seconds and flops, and their means per step."""
        single = len(self.mode_seconds) == 1
        seconds = steps * self.mode_seconds[0] if single else self.seconds(steps)
        flops = self.flops(steps)
        return {"step_seconds": self.mode_seconds[0] if single else seconds / steps,
                "step_flops": flops / steps, "train_seconds": seconds, "flops": flops,
                "mode_seconds": self.mode_seconds}


def reach_baseline(run, baseline, cost, baseline_cost):
    """Adds to `run` (one seed of an arm whose `ArmCost` is `cost`) the step,
    step-seconds and FLOPs at which it first reaches `baseline`'s final
    held-out loss (None: never); and, the other way round, the step where
    the baseline (`baseline_cost`) first reaches this run's final loss with
    what this run spent on it as shares of what the baseline spent there
    (None: the baseline never gets that low). The second answers "how far
    off" for an arm that never reaches the baseline."""
    curve, base = run["curve"], baseline["curve"]
    step = first_reach([c[0] for c in curve], [c[1] for c in curve], baseline["final_heldout_loss"])
    run["steps_to_baseline_loss"] = step
    run["seconds_to_baseline_loss"] = None if step is None else cost.seconds(step)
    run["flops_to_baseline_loss"] = None if step is None else cost.flops(step)
    own = first_reach([c[0] for c in base], [c[1] for c in base], run["final_heldout_loss"])
    run["baseline_steps_to_own_loss"] = own
    last = curve[-1][0]
    run["own_loss_vs_baseline"] = None if not own else {
        "seconds": cost.seconds(last) / baseline_cost.seconds(own),
        "flops": cost.flops(last) / baseline_cost.flops(own)}


def eval_curve(model_dir):
    """[(step, held-out mlm_loss, mlm_accuracy)] of every evaluation in `model_dir`."""
    points = {}
    for path in tf.io.gfile.glob(os.path.join(model_dir, "eval", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                points.setdefault(event.step, {})[value.tag] = float(tf.make_ndarray(value.tensor))
    if not points:
        raise StudyError(f"{model_dir} holds no evaluation summaries.")
    return [(step, p["mlm_loss"], p["mlm_accuracy"]) for step, p in sorted(points.items())]


class Report:
    """results.json, results.md, commands.txt and the plots."""

    def __init__(self, study, unigram, runs, finetune, bench):
        self.study, self.unigram, self.runs, self.finetune, self.bench = study, unigram, runs, finetune, bench

    def seeds_of(self, arm):
        """[(seed, run)] of every pretraining seed of `arm`, the experiment seed first."""
        run = self.runs[arm]
        return [(str(self.study.args.seed), run)] + list(run.get("other_seeds", {}).items())

    def benefits(self):
        """Fine-tuned accuracy minus no_pretraining's, and the share of baseline's kept."""
        control = self.finetune.get("no_pretraining", {})
        benefit = {arm: {task: tasks[task]["mean"] - control[task]["mean"] for task in tasks}
                   for arm, tasks in self.finetune.items() if arm != "no_pretraining" and control}
        kept = {}
        for arm, tasks in benefit.items():
            base = benefit.get("baseline", {})
            kept[arm] = {task: (value / base[task] if base.get(task, 0) > 0 else None)
                         for task, value in tasks.items()}
        return benefit, kept

    def write(self):
        st, s = self.study, self.study.scale
        benefit, kept = self.benefits()
        base = self.runs.get("baseline")
        ratios, ratios_by_seed = {}, {}
        if base:
            for arm, run in self.runs.items():
                for seed, one in self.seeds_of(arm):
                    if one.get("seconds_to_baseline_loss") is not None:
                        ratios_by_seed.setdefault(arm, {})[seed] = {
                            "seconds": one["seconds_to_baseline_loss"] / base["train_seconds"],
                            "flops": one["flops_to_baseline_loss"] / base["flops"]}
                if str(st.args.seed) in ratios_by_seed.get(arm, {}):
                    ratios[arm] = ratios_by_seed[arm][str(st.args.seed)]
        summary = {
            "name": st.args.name, "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores", "study_wall_seconds": time.time() - st.start,
            "seed": st.args.seed, "scale": dataclasses.asdict(s), "vocab_size": st.vocab_size,
            "small_dense_layers": st.dense_layers, "evaluations_per_run": st.args.evaluations,
            "unigram_heldout_loss": self.unigram, "benchmark": self.bench,
            "runs": self.runs, "finetune": self.finetune, "pretraining_benefit": benefit,
            "benefit_kept_vs_baseline": kept, "to_baseline_loss_vs_baseline": ratios,
            "to_baseline_loss_vs_baseline_by_seed": ratios_by_seed,
            "pretraining_wall_seconds": sum(one["wall_seconds"] for arm in self.runs
                                            for _, one in self.seeds_of(arm)),
        }
        with open(os.path.join(st.out, "results.json"), "w") as f:
            json.dump(summary, f, indent=2)
        log = os.path.join(st.work, "commands.log")
        commands = open(log).read() if os.path.exists(log) else ""
        with open(os.path.join(st.out, "commands.txt"), "w") as f:
            f.write(f"# the study\n{summary['command']}\n\n# the stages it ran (work dir {st.work})\n"
                    + commands)
        self.plots()
        text = self.markdown(summary)
        with open(os.path.join(st.out, "results.md"), "w") as f:
            f.write(text)
        print(text)

    def plots(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for axis, label, file in (("seconds", "step-seconds (each step at its mode's measured s/step, 2-core CPU)",
                                   "heldout_loss_vs_step_seconds.png"),
                                  ("flops", "training FLOPs (FLOP model)", "heldout_loss_vs_flops.png")):
            plt.figure(figsize=(7, 4.5))
            for arm, run in self.runs.items():
                if "curve" not in run:
                    continue
                color = None
                for seed, one in self.seeds_of(arm):
                    steps, loss, _ = zip(*one["curve"])
                    cost = getattr(self.study.costs[arm], axis)
                    line, = plt.plot([cost(x) for x in steps], loss, marker=".", color=color,
                                     linestyle="-" if color is None else ":",
                                     label=f"{arm} ({run['steps']} steps, seed {seed})")
                    color = line.get_color()
            plt.axhline(self.unigram, color="gray", linestyle="--", label="unigram predictor")
            plt.xlabel(label)
            plt.ylabel("held-out MLM loss (full encoder)")
            plt.legend()
            plt.grid(alpha=0.3)
            plt.savefig(os.path.join(self.study.out, file), dpi=100, bbox_inches="tight")
            plt.close()

    def markdown(self, summary):
        st, s = self.study, self.study.scale
        tasks = st.tasks
        lines = [f"# {st.args.name}", "",
                 f"{s.layers}-layer, {s.hidden}-wide BERT ({s.heads} heads, FFN {s.inner}), seq {s.seq}, "
                 f"{s.predictions} predictions, batch {s.batch}, keep {s.seq // 2} for token dropping, "
                 f"vocabulary {st.vocab_size}, dropout {s.dropout}, lr {s.learning_rate} (10% of {s.steps} "
                 f"steps warm-up, linear decay), seed {st.args.seed}; small_dense has {st.dense_layers} layers. "
                 f"{summary['machine']}; {summary['date']}; this invocation "
                 f"{summary['study_wall_seconds'] / 60:.0f} min (finished stages are reused), the pretraining runs "
                 f"{summary['pretraining_wall_seconds'] / 60:.0f} min of wall-clock in all.",
                 "", f"Command: `{summary['command']}`", "",
                 f"Unigram predictor's held-out loss: **{self.unigram:.3f}**", "",
                 "| run | steps | s/step | step-seconds | TFLOPs | wall s | held-out loss | below unigram | "
                 "step-s to baseline loss | TFLOPs to baseline loss |"
                 + "".join(f" {task} |" for task in tasks),
                 "| --- " * (10 + len(tasks)) + "|"]
        lines += self.table_rows(tasks)
        lines += ["", "Fine-tuned accuracy per row: mean ± spread (number of fine-tunes) of that pretraining "
                  "seed; the goals pool every pretraining seed of an arm.",
                  "", "Against the goals:"] + self.goals(summary) + ["", "Details:"]
        lines += self.details(summary, tasks)
        b = self.bench
        if b.get("rounds"):
            lines += ["", f"Step-seconds: medians of {len(next(iter(b['rounds'].values())))} interleaved rounds of "
                      f"{b['steps_per_round']} steps on one resident batch (load average {b['load_before']:.2f} "
                      f"before, {b['load_after']:.2f} after). baseline_equal_cost and small_dense run for the "
                      "steps whose step-seconds equal token_drop's."]
        lines += ["", "Every number: results.json. Commands: commands.txt. Plots: "
                  "heldout_loss_vs_step_seconds.png, heldout_loss_vs_flops.png.", ""]
        return "\n".join(lines)

    def table_rows(self, tasks):
        """The results table's rows: one per arm and pretraining seed."""
        st, lines = self.study, []
        for arm, run in self.runs.items():
            for seed, one in self.seeds_of(arm) if "curve" in run else [(str(st.args.seed), run)]:
                loss = one.get("final_heldout_loss")
                cells = [arm if one is run else f"{arm} seed {seed}", str(run["steps"]),
                         f"{run['step_seconds']:.3f}", f"{run['train_seconds']:.0f}",
                         f"{run['flops'] / 1e12:.1f}", f"{one['wall_seconds']:.0f}",
                         "-" if loss is None else f"{loss:.3f}",
                         "-" if loss is None else f"{self.unigram - loss:.3f}",
                         _fmt(one.get("seconds_to_baseline_loss"), "{:.0f}"),
                         _fmt(one.get("flops_to_baseline_loss"), "{:.1f}", 1e-12)]
                for task in tasks:
                    ft = self.finetune.get(arm, {}).get(task)
                    scores = None if ft is None else ft["by_pretraining_seed"].get(seed)
                    if arm == "no_pretraining" and ft is not None:
                        scores = ft["seeds"]
                    cells.append("-" if not scores else
                                 f"{np.mean(scores):.3f} ± {np.std(scores):.3f} ({len(scores)})")
                lines.append("| " + " | ".join(cells) + " |")
        return lines

    def details(self, summary, tasks):
        """The details: each arm against its seed's baseline, the
        pretraining benefits and the majority class."""
        lines, ratios = [], summary["to_baseline_loss_vs_baseline_by_seed"]
        for arm in ("token_drop", "baseline_equal_cost", "small_dense", *VARIANTS):
            for seed, one in self.seeds_of(arm) if arm in self.runs else []:
                r = ratios.get(arm, {}).get(seed)
                own = one.get("own_loss_vs_baseline")
                lines.append(f"- {arm} (seed {seed}) reaches the same seed's baseline final held-out loss "
                             + ("never within its run" if r is None else
                                f"at {r['seconds']:.3f} of the baseline's step-seconds and "
                                f"{r['flops']:.3f} of its FLOPs")
                             + ("." if own is None else
                                f"; the baseline reaches {arm}'s final loss ({one['final_heldout_loss']:.3f}) at "
                                f"step {one['baseline_steps_to_own_loss']:.0f}, and to that loss {arm} costs "
                                f"{own['seconds']:.3f} of the baseline's step-seconds and {own['flops']:.3f} "
                                "of its FLOPs."))
        benefit, kept = summary["pretraining_benefit"], summary["benefit_kept_vs_baseline"]
        for arm in benefit:
            lines.append(f"- {arm} pretraining benefit over no_pretraining: " + ", ".join(
                f"{task} {100 * benefit[arm][task]:+.1f} points"
                + ("" if kept[arm][task] is None or arm == "baseline" else f" ({kept[arm][task]:.0%} of baseline's)")
                for task in tasks if task in benefit[arm]))  # a partial report lacks later tasks
        if tasks and self.finetune:
            any_arm = next(iter(self.finetune.values()))
            lines.append("- majority class: " + ", ".join(
                f"{task} {any_arm[task]['majority_baseline']:.3f}" for task in tasks if task in any_arm))
        return lines


    def goals(self, summary):
        """One line per goal of the study, met or missed, with the numbers."""
        def verdict(ok):
            return "met" if ok else "missed"

        lines, runs = [], self.runs
        base = runs.get("baseline")
        if base:
            below = self.unigram - base["final_heldout_loss"]
            lines.append(f"- baseline {below:.3f} nats below the unigram predictor (goal >= 1.0): "
                         f"{verdict(below >= 1.0)}.")
        by_seed = summary["to_baseline_loss_vs_baseline_by_seed"].get("token_drop", {})
        for seed, _ in self.seeds_of("token_drop") if "token_drop" in runs else []:
            r = by_seed.get(seed)
            lines.append(f"- token_drop (seed {seed}) to the same seed's baseline final loss (goal <= 0.80 of its "
                         "step-seconds and FLOPs): " + ("never reached: missed." if r is None else
                                                        f"{r['seconds']:.3f} and {r['flops']:.3f}: "
                                                        f"{verdict(r['seconds'] <= 0.8)} / "
                                                        f"{verdict(r['flops'] <= 0.8)}."))
        benefit, kept = summary["pretraining_benefit"], summary["benefit_kept_vs_baseline"]
        for task in self.study.tasks:
            gain = benefit.get("baseline", {}).get(task)
            if gain is None:
                continue
            line = f"- {task}: baseline's pretraining benefit {100 * gain:+.1f} points (goal >= 5 on one task)"
            share = kept.get("token_drop", {}).get(task)
            if share is not None and gain >= 0.05:
                line += f"; token_drop keeps {share:.0%} of it (goal >= 90%): {verdict(share >= 0.9)}"
            lines.append(line + ".")
        if "token_drop" in runs and runs["token_drop"].get("other_seeds"):
            means = {arm: statistics.mean(one["final_heldout_loss"] for _, one in self.seeds_of(arm))
                     for arm in SEEDED}
            lines.append(f"- final held-out loss, mean of {len(self.seeds_of('token_drop'))} pretraining seeds: "
                         f"baseline {means['baseline']:.3f}, token_drop {means['token_drop']:.3f} "
                         f"({means['token_drop'] - means['baseline']:+.3f} nats).")
        lines += self.variant_goals(summary)
        if "token_drop" in runs:
            for control in ("baseline_equal_cost", "small_dense"):
                if control in runs:
                    ours, theirs = runs["token_drop"]["final_heldout_loss"], runs[control]["final_heldout_loss"]
                    lines.append(f"- at equal step-seconds token_drop ends at {ours:.3f} vs {control} "
                                 f"{theirs:.3f}: token_drop {'better' if ours < theirs else 'not better'} "
                                 f"by {theirs - ours:+.3f} nats.")
        return lines


    def variant_goals(self, summary):
        """The variants against the 0.6-of-baseline cost goal, beside plain
        token dropping, and the pretraining benefit each keeps."""
        ratios, kept = summary["to_baseline_loss_vs_baseline"], summary["benefit_kept_vs_baseline"]
        variants = [v for v in VARIANTS if v in self.runs]
        lines = []
        for arm in variants + (["token_drop"] if variants and "token_drop" in self.runs else []):
            r = ratios.get(arm)
            line = (f"- {arm} ({json.dumps(VARIANTS[arm](self.study.scale)) if arm in VARIANTS else 'plain'}) "
                    f"to the baseline's final loss (goal <= 0.6 of its step-seconds and FLOPs): "
                    + ("never reached: missed" if r is None else
                       f"{r['seconds']:.3f} / {r['flops']:.3f}: {'met' if max(r.values()) <= 0.6 else 'missed'}"))
            shares = [f"{task} {kept[arm][task]:.0%}" for task in self.study.tasks
                      if kept.get(arm, {}).get(task) is not None]
            lines.append(line + ("; benefit kept (goal >= 90%): " + ", ".join(shares) if shares else "") + ".")
        reached = {v: ratios[v] for v in variants if v in ratios}
        own = {v: self.runs[v]["own_loss_vs_baseline"] for v in variants
               if self.runs[v].get("own_loss_vs_baseline")}
        if variants:
            best = min(reached, key=lambda v: reached[v]["seconds"]) if reached else None
            closest = min(own, key=lambda v: own[v]["seconds"]) if own else None
            lines.append("- best variant: " + (
                f"{best} at {reached[best]['seconds']:.3f} of the step-seconds." if best else
                "none reaches the baseline's final loss" + (
                    "." if closest is None else
                    f"; measured to its own final loss instead, the cheapest is {closest}: "
                    f"{own[closest]['seconds']:.3f} of the baseline's step-seconds and "
                    f"{own[closest]['flops']:.3f} of its FLOPs to that loss.")))
        return lines


def _fmt(value, pattern, scale=1.0):
    return "-" if value is None else pattern.format(value * scale)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="study_6x128", help="results folder under --results_dir")
    parser.add_argument("--runs", default=",".join(ARMS), help=f"comma-separated, from: {', '.join(ARMS + tuple(VARIANTS))}")
    parser.add_argument("--tasks", default=",".join(TASKS), help="fine-tuning tasks (empty: none)")
    parser.add_argument("--scale", default="study", choices=sorted(SCALES))
    parser.add_argument("--steps", type=int, default=None, help="N (default: the scale's)")
    parser.add_argument("--seed", type=int, default=0, help="experiment seed: init, data order, dropout")
    parser.add_argument("--evaluations", type=int, default=25, help="held-out evaluations per run")
    parser.add_argument("--pretrain_seeds", type=int, default=2,
                        help="pretraining seeds of baseline and token_drop (--seed, --seed + 1, ...)")
    parser.add_argument("--finetune_seeds", type=int, default=2, help="per pretrained model")
    parser.add_argument("--control_seeds", type=int, default=3, help="seeds of no_pretraining")
    parser.add_argument("--corpus_dir", default=os.path.join(root, "..", "shared", "data", "corpus"))
    parser.add_argument("--corpus_lines", type=int, default=0, help="lines read per corpus file (0: all)")
    parser.add_argument("--tasks_dir", default=os.path.join(root, "..", "shared", "data", "tasks"))
    parser.add_argument("--work_dir", default=None, help="model dirs and data (default /tmp/study_<name>)")
    parser.add_argument("--results_dir", default=os.path.join(root, "experiments", "results"))
    args = parser.parse_args()
    try:
        if args.steps is not None and args.steps < 1:
            raise StudyError(f"--steps must be at least 1; got {args.steps}.")
        for flag in ("evaluations", "pretrain_seeds", "finetune_seeds", "control_seeds"):
            if getattr(args, flag) < 1:
                raise StudyError(f"--{flag} must be at least 1; got {getattr(args, flag)}.")
        runs = parse_runs(args.runs)
        if not runs:
            raise StudyError("--runs is empty.")
        tasks = parse_tasks(args.tasks, args.tasks_dir)
        files = corpus_files(args.corpus_dir)
        scale = SCALES[args.scale]
        if args.steps:
            scale = dataclasses.replace(scale, steps=args.steps)
        args.work_dir = args.work_dir or os.path.join("/tmp", f"study_{args.name}")
        Study(args, scale, runs, tasks)(files)
    except (StudyError, TokenDropError) as error:
        print(f"token_drop_study: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
