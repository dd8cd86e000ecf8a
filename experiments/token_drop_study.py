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

and, when named in --runs, equal compute the other way round and
continued pretraining, the common real use:

  token_drop_baseline_cost   token dropping for the steps whose step-seconds
                             equal the baseline's N steps (its own
                             learning-rate schedule, warm-up and decay, to
                             that step)
  general                    the dense model, N steps on the corpus without
                             --domain_file (its vocabulary learned without
                             that file too, as a released model's would be)
  continued_dense            general continued on --domain_file (every 10th
                             line held out: the domain's held-out set) for
                             the scale's continue_steps, dense
  continued_token_drop       the same continuation with token dropping (the
                             importance table starts fresh)
  continued_dense_equal_cost continued_dense for the steps whose step-seconds
                             equal continued_token_drop's
  continued_token_drop_warm  continued_token_drop with the table warmed first
                             by the MLM losses of the scale's
                             table_warmup_steps domain batches (forward
                             passes; their step-seconds and FLOPs counted)

The continuations start from general's model_dir through
`task.init_checkpoint`, the key a user sets, and the warm table through
`task.token_table_warmup_steps`.

Cost is counted on two noise-free axes: FLOPs from `official_tokendrop.models.flops`
and step-seconds (each step at the seconds of its training mode, measured
for all arms and modes in one interleaved benchmark before pretraining
starts, so the long runs may share the machine with light work). The held-out MLM loss (full
encoder) is evaluated `--evaluations` times per run next to the unigram
predictor's loss on the same masked positions (the continuations': the
domain's held-out loss). Each model of the first two lists is then
fine-tuned on the tasks of `../shared/data/tasks/` with several seeds.

Seeds: baseline, token_drop and token_drop_baseline_cost are pretrained
with --pretrain_seeds seeds (init and data order); continued_dense,
continued_token_drop and continued_dense_equal_cost are continued with as
many continuation seeds (data order and masking) from the one general
model; every other arm with --seed only.

Writes `experiments/results/<name>/`: results.json (every number),
results.md, commands.txt and two plots of held-out loss against cost (two
more of the domain's held-out loss when the continuations run). The data
stages run in this process (a program's start-up saved each); commands.txt
gives the commands that compute the same. A rerun reuses finished work
(data, benchmark, finished runs, exports, fine-tunes) and resumes an
interrupted run from its last checkpoint.

    .venv/bin/python experiments/token_drop_study.py --name=study_6x128
"""

import argparse
import contextlib
import dataclasses
import functools
import json
import logging
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
from official_tokendrop.data.create_pretraining_data import ConversionOptions, convert  # noqa: E402
from official_tokendrop.data.pretrain_dataloader import pretrain_dataset  # noqa: E402
from official_tokendrop.data.task_rows import read_task_file, write_task_file  # noqa: E402
from official_tokendrop.data.vocabulary import build_vocabulary  # noqa: E402
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
FROM_SCRATCH = ("token_drop_baseline_cost",)
CONTINUED = ("general", "continued_dense", "continued_token_drop", "continued_dense_equal_cost",
             "continued_token_drop_warm")
CONTINUATIONS = CONTINUED[1:]  # the runs that start from general
PRETRAINED = ARMS[:4]
TRAINED = PRETRAINED + tuple(VARIANTS) + FROM_SCRATCH + CONTINUED  # every arm that pretrains
FINETUNED = ARMS + tuple(VARIANTS)  # the arms fine-tuned on the tasks
SEEDED = ARMS[:2] + FROM_SCRATCH + CONTINUATIONS[:3]  # the arms run with --pretrain_seeds seeds
DROPPING = ("token_drop", *VARIANTS, "token_drop_baseline_cost", "continued_token_drop", "continued_token_drop_warm")
WARMED = ("continued_token_drop_warm",)  # the arms whose table is warmed before step 0
# An arm whose model (architecture and vocabulary) is another's takes that
# arm's measured seconds per step.
TIMED_AS = {"baseline_equal_cost": "baseline", "token_drop_baseline_cost": "token_drop",
            "general": "continued_dense", "continued_dense_equal_cost": "continued_dense",
            "continued_token_drop_warm": "continued_token_drop"}
# An arm sized by cost runs the step-seconds of another arm's run.
SIZED_BY = {"baseline_equal_cost": "token_drop", "small_dense": "token_drop",
            "token_drop_baseline_cost": "baseline", "continued_dense_equal_cost": "continued_token_drop"}
HELDOUT_EVERY, DOMAIN_HELDOUT_EVERY = 50, 10  # a single file needs a larger share for its eval batches
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
    continue_steps: int  # steps of each continuation of general
    table_warmup_steps: int  # batches of continued_token_drop_warm's table warm-up
    xla: bool = True  # the trainer's XLA step (runtime.enable_xla)


SCALES = {
    # 6 x 128: 3 of 6 layers see half the tokens, a 22% FLOP saving; see
    # BUILD_NOTES.md for why not 12 layers on this budget.
    "study": Scale(hidden=128, layers=6, heads=2, inner=512, seq=128, predictions=20, batch=32,
                   steps=3000, learning_rate=1e-3, dropout=0.0, vocab_size=8000, vocab_lines=60000, dupe_factor=2,
                   eval_batches=16, finetune_examples=5000, finetune_eval_examples=2000,
                   finetune_epochs=3, finetune_learning_rate=1e-3, bench_rounds=5, bench_steps=5,
                   # A continuation of a third of the steps; its table warm-up a
                   # tenth of those, forward only: ~3% of its step-seconds.
                   continue_steps=1000, table_warmup_steps=100),
    # The CI smoke run: seconds per stage.
    "tiny": Scale(hidden=32, layers=4, heads=2, inner=64, seq=32, predictions=5, batch=8,
                  steps=20, learning_rate=1e-3, dropout=0.0, vocab_size=400, vocab_lines=2000, dupe_factor=1,
                  eval_batches=2, finetune_examples=64, finetune_eval_examples=32,
                  finetune_epochs=1, finetune_learning_rate=1e-3, bench_rounds=2, bench_steps=1,
                  continue_steps=6, table_warmup_steps=2, xla=False),  # compiling costs more than 20 tiny steps
}


class StudyError(ValueError):
    """Bad input to the study: reported as one line."""


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Text files split into training and held-out lines, a vocabulary and
    the TFRecords of both splits."""

    files: list  # the corpus files it was made of (names)
    heldout_every: int  # every n-th line of each file is held out
    vocab: str
    vocab_size: int
    data: dict  # "train" / "heldout" -> TFRecord pattern


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


def time_steps(contenders, rounds, per_round, log):
    """{label: seconds per step of each round}: `per_round` steps of each
    contender in `rounds` interleaved rounds (each starting at the next
    contender). A contender is `(iterations, step, run)`: its optimizer's
    step counter, held at `step` so that it stays in one training mode,
    and `run()`, one step on a resident batch that returns its logs."""
    labels, times = list(contenders), {label: [] for label in contenders}
    for iterations, step, run in contenders.values():  # compiles every mode
        iterations.assign(step)
        float(run()["loss"])
    for r in range(rounds):
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            iterations, step, run = contenders[label]
            start = time.perf_counter()
            for _ in range(per_round):
                iterations.assign(step)  # stays in this mode
                logs = run()
            float(logs["loss"])  # waits for the last step
            times[label].append((time.perf_counter() - start) / per_round)
        log(f"benchmark round {r + 1}/{rounds}: " + ", ".join(
            f"{label} {1000 * times[label][-1]:.0f} ms" for label in labels))
    return times


def mode_label(arm, mode):
    """The benchmark's label of `arm`'s training mode `mode`."""
    return arm if mode == 0 else f"{arm}[mode {mode}]"


def warmup_label(arm):
    """The benchmark's label of `arm`'s table warm-up step."""
    return f"{arm}[table warm-up]"


def default_steps(scale, arm):
    """Steps of an arm that is not sized by cost."""
    return scale.continue_steps if arm in CONTINUATIONS else scale.steps


def step_budget(scale, bench):
    """(steps of each arm, seconds per step of each of its training modes)
    from the benchmark: an arm in `SIZED_BY` runs the steps whose
    step-seconds equal its sizing arm's run; an arm in `TIMED_AS` takes
    the seconds of the arm whose model it shares."""
    timed, modes = bench["step_seconds"], bench.get("mode_seconds", {})
    timed_as = {arm: TIMED_AS.get(arm, arm) for arm in TRAINED}
    mode_seconds = {arm: modes.get(model, [timed[model]]) for arm, model in timed_as.items() if model in timed}
    steps = {arm: default_steps(scale, arm) for arm in TRAINED}
    for arm, sizing in SIZED_BY.items():
        if arm in mode_seconds and sizing in mode_seconds:  # both of one mode
            steps[arm] = round(steps[sizing] * mode_seconds[sizing][0] / mode_seconds[arm][0])
    return steps, mode_seconds


def corpus_of(arm):
    """The corpus an arm trains and is evaluated on: "corpus" (the whole
    corpus), "general" (without the domain file) or "domain"."""
    return "domain" if arm in CONTINUATIONS else "general" if arm == "general" else "corpus"


def reference_of(arm):
    """The arm whose final held-out loss `arm` is measured against (None:
    general, whose held-out set no other arm shares)."""
    return None if arm == "general" else "continued_dense" if arm in CONTINUATIONS else "baseline"


def seeds_of(runs, arm, seed):
    """[(seed, run)] of every seed of `arm` in `runs`, the experiment
    `seed` (a string) first."""
    run = runs[arm]
    return [(seed, run)] + list(run.get("other_seeds", {}).items())


def verdict(ok):
    return "met" if ok else "missed"


def baseline_cost_goals(runs, seed):
    """Token dropping given the baseline's step-seconds against the same
    seed's baseline (goal: below its final held-out loss)."""
    if "token_drop_baseline_cost" not in runs or "baseline" not in runs:
        return []
    run, baseline = runs["token_drop_baseline_cost"], runs["baseline"]
    base, lines = dict(seeds_of(runs, "baseline", seed)), []
    for one_seed, one in seeds_of(runs, "token_drop_baseline_cost", seed):
        if one_seed not in base:
            continue
        ours, theirs = one["final_heldout_loss"], base[one_seed]["final_heldout_loss"]
        lines.append(f"- token_drop_baseline_cost (seed {one_seed}; {run['steps']} steps, {run['train_seconds']:.0f} "
                     f"step-seconds vs the baseline's {baseline['train_seconds']:.0f}, "
                     f"{run['flops'] / baseline['flops']:.3f} of its FLOPs) ends at {ours:.3f} vs the same seed's "
                     f"baseline {theirs:.3f} (goal: below it): {verdict(ours < theirs)} by {theirs - ours:+.3f} nats.")
    return lines


def continued_goals(runs, seed, ratios_by_seed):
    """The continuations' goals: continued_token_drop to continued_dense's
    final domain held-out loss at <= 0.80 of its step-seconds and FLOPs,
    and below the equal-cost dense continuation, per seed; then the fresh
    against the warm table."""
    if "continued_token_drop" not in runs or "continued_dense" not in runs:
        return []
    lines, reached = [], ratios_by_seed.get("continued_token_drop", {})
    equal = dict(seeds_of(runs, "continued_dense_equal_cost", seed)) if "continued_dense_equal_cost" in runs else {}
    for one_seed, one in seeds_of(runs, "continued_token_drop", seed):
        r = reached.get(one_seed)
        lines.append(f"- continued_token_drop (seed {one_seed}) to the same seed's continued_dense final domain "
                     "held-out loss (goal <= 0.80 of its step-seconds and FLOPs): "
                     + ("never reached: missed." if r is None else
                        f"{r['seconds']:.3f} and {r['flops']:.3f}: {verdict(r['seconds'] <= 0.8)} / "
                        f"{verdict(r['flops'] <= 0.8)}."))
        if one_seed in equal:
            ours, theirs = one["final_heldout_loss"], equal[one_seed]["final_heldout_loss"]
            lines.append(f"- continued_token_drop (seed {one_seed}) ends at {ours:.3f} vs continued_dense_equal_cost "
                         f"{theirs:.3f} at equal step-seconds (goal: below it): {verdict(ours < theirs)} by "
                         f"{theirs - ours:+.3f} nats.")
    if "continued_token_drop_warm" in runs:
        lines.append(table_warmup_verdict(runs["continued_token_drop"], runs["continued_token_drop_warm"]))
    return lines


def table_warmup_verdict(fresh, warm):
    """Fresh against warm importance table, both continuations of one seed:
    the better is the one that reaches continued_dense's final loss for
    fewer step-seconds (the warm-up's included); when either never does,
    the lower final loss, unless the two differ by less than the fresh
    table's own seeds do (then, as on a tie, the cheaper fresh table)."""
    reach = {name: run["seconds_to_baseline_loss"] for name, run in (("warm", warm), ("fresh", fresh))}
    if None not in reach.values():
        warm_better = reach["warm"] < reach["fresh"]
        by = f"step-seconds to continued_dense's final loss, {reach['warm']:.0f} vs {reach['fresh']:.0f}"
    else:
        gap = fresh["final_heldout_loss"] - warm["final_heldout_loss"]
        spread = max((abs(fresh["final_heldout_loss"] - one["final_heldout_loss"])
                      for one in fresh.get("other_seeds", {}).values()), default=0.0)
        warm_better = gap > spread
        by = "final loss (" + ", ".join(f"{name} " + ("never reaches" if r is None else f"reaches at {r:.0f} s")
                                        for name, r in reach.items()) + " continued_dense's)"
        if 0 < gap <= spread:
            by += f", but the gap is within the fresh table's seed spread of {spread:.3f} nats"
    steps = warm["table_warmup_steps"]
    return (f"- table warm-up ({steps} domain batches, forward only: {warm['table_warmup_seconds']:.1f} "
            f"step-seconds, {warm['table_warmup_seconds'] / warm['train_seconds']:.1%} of its run's, and "
            f"{warm['table_warmup_flops'] / warm['flops']:.1%} of its FLOPs): warm ends at "
            f"{warm['final_heldout_loss']:.3f} vs fresh {fresh['final_heldout_loss']:.3f} "
            f"({warm['final_heldout_loss'] - fresh['final_heldout_loss']:+.3f} nats); better by {by}: "
            f"{'warm' if warm_better else 'fresh'}, so the default for continued pretraining is "
            f"task.token_table_warmup_steps={steps if warm_better else 0}.")


# === Inputs ===
KNOWN = ARMS + tuple(VARIANTS) + FROM_SCRATCH + CONTINUED  # in the order they run


def parse_runs(text):
    runs = [r for r in text.split(",") if r]
    unknown = [r for r in runs if r not in KNOWN]
    if unknown:
        raise StudyError(f"--runs: unknown run {unknown[0]!r}; choose from {', '.join(KNOWN)}.")
    for run, needed in SIZED_BY.items():
        if run in runs and needed not in runs:
            raise StudyError(f"--runs: {run} is sized by {needed}'s cost; add {needed}.")
    for run in runs:
        reference = reference_of(run) if run != "no_pretraining" else None
        if reference and reference not in runs:
            raise StudyError(f"--runs: the comparisons need {reference}; add it.")
        if run in CONTINUATIONS and "general" not in runs:
            raise StudyError(f"--runs: {run} continues general; add general.")
    if "general" in runs and "continued_dense" not in runs:
        raise StudyError("--runs: general is timed as continued_dense; add continued_dense.")
    return [r for r in KNOWN if r in runs]


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


def check_domain_file(name, corpus_dir, files):
    """The domain file is one of the corpus files, and not the only one."""
    names = [os.path.basename(f) for f in files]
    if name not in names:
        raise StudyError(f"--domain_file {name} is not a .txt file of --corpus_dir {corpus_dir}.")
    if len(names) == 1:
        raise StudyError(f"--domain_file {name} is the only file of --corpus_dir {corpus_dir}: "
                         "general would have no corpus.")


def _call_logged(function, log):
    """Calls `function()` with its output in the open file `log`, as a
    program of the project would run it: one of the project's errors is
    the log's last line and the result is 1."""
    # absl's first log call with no root handler installs one on the
    # sys.stderr of that moment, which here is `log`, closed after the
    # stage: a handler of our own for the stage's length prevents that.
    handler = logging.StreamHandler(log)
    logging.root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            function()
    except TokenDropError as error:
        print(f"error: {error}", file=log)
        return 1
    finally:
        logging.root.removeHandler(handler)
    return 0


def _convert(input_files, vocab_file, output_dir, options):
    """The converter's work and its printed summary (`create_pretraining_data.main`)."""
    print(json.dumps(convert(input_files, vocab_file, output_dir, options), indent=2))


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

    def run(self, command, log_name, here=None):
        """Runs the program `command`, its output in the work dir's
        `log_name`; or, given `here`, calls `here()` in this process: what
        `command` computes, without a program's start-up (seconds each, for
        the data stages). Returns the seconds it took."""
        # Kept in the work dir, so a rerun that reuses finished stages still
        # reports every command that produced its numbers.
        with open(os.path.join(self.work, "commands.log"), "a") as f:
            f.write(" ".join(command) + "\n")
        log = os.path.join(self.work, log_name)
        start = time.time()
        with open(log, "w") as f:
            if here is None:
                code = subprocess.run(command, env=ENV, stdout=f, stderr=subprocess.STDOUT).returncode
            else:
                code = _call_logged(here, f)
        if code:
            with open(log) as f:
                tail = f.read().strip().splitlines()[-1:] or [""]
            raise StudyError(f"step failed ({code}): {' '.join(command[:3])} ...: {tail[0]} (log: {log})")
        return time.time() - start

    # --- data ---
    def prepare_data(self, files):
        """`self.corpora` of the runs: the whole corpus ("corpus", its
        TFRecords at the top of the work dir); for the continuations, the
        corpus without the domain file ("general", with a vocabulary of its
        own) and the domain file under general's vocabulary ("domain")."""
        needed = {corpus_of(r) for r in self.runs}
        self.corpora = {}
        if "corpus" in needed:
            self.corpora["corpus"] = self.prepare_corpus(self.work, files, HELDOUT_EVERY)
        if needed & {"general", "domain"}:
            domain = [f for f in files if os.path.basename(f) == self.args.domain_file]
            general = self.prepare_corpus(os.path.join(self.work, "general_data"),
                                          [f for f in files if f not in domain], HELDOUT_EVERY)
            self.corpora["general"] = general
            self.corpora["domain"] = self.prepare_corpus(os.path.join(self.work, "domain_data"), domain,
                                                         DOMAIN_HELDOUT_EVERY, general)

    def prepare_corpus(self, directory, files, heldout_every, vocabulary_of=None):
        """Every `heldout_every`-th line of each of `files` held out, a
        vocabulary learned from the rest (or `vocabulary_of`'s: a Corpus),
        and TFRecords of both splits, under `directory`."""
        s = self.scale
        os.makedirs(directory, exist_ok=True)
        logs = os.path.relpath(directory, self.work)  # "." for the corpus
        text = {split: os.path.join(directory, f"{split}.txt") for split in ("train", "heldout")}
        if not all(os.path.exists(p) for p in text.values()):
            with open(text["train"] + ".tmp", "w") as train, open(text["heldout"] + ".tmp", "w") as heldout:
                for name in files:
                    with open(name, encoding="utf-8", errors="replace") as f:
                        for i, line in enumerate(f):
                            if self.args.corpus_lines and i >= self.args.corpus_lines:
                                break
                            (heldout if i % heldout_every == 0 else train).write(line)
                    train.write("\n")
                    heldout.write("\n")
            for p in text.values():
                os.replace(p + ".tmp", p)
        vocab = vocabulary_of.vocab if vocabulary_of else os.path.join(directory, "vocab.txt")
        if not os.path.exists(vocab):
            self.run([self.py, "-m", "official_tokendrop.data.vocabulary", f"--input_files={text['train']}",
                      f"--vocab_size={s.vocab_size}", f"--max_lines={s.vocab_lines}",
                      f"--output_file={vocab}"], os.path.normpath(os.path.join(logs, "vocab.log")),
                     here=lambda: build_vocabulary([text["train"]], s.vocab_size, vocab, max_lines=s.vocab_lines))
        data = {}
        for split in ("train", "heldout"):
            output = os.path.join(directory, split)
            if not os.path.exists(os.path.join(output, "dataset_config.json")) or any(
                    f.endswith(".incomplete") for f in os.listdir(output)):
                options = ConversionOptions(seq_length=s.seq, max_predictions_per_seq=s.predictions, num_shards=4,
                                            dupe_factor=s.dupe_factor if split == "train" else 1,
                                            random_seed=self.args.seed)
                self.run([self.py, "-m", "official_tokendrop.data.create_pretraining_data",
                          f"--input_files={text[split]}", f"--vocab_file={vocab}", f"--output_dir={output}",
                          f"--seq_length={s.seq}", f"--max_predictions_per_seq={s.predictions}",
                          f"--num_shards={options.num_shards}", f"--dupe_factor={options.dupe_factor}",
                          f"--random_seed={options.random_seed}"],
                         os.path.normpath(os.path.join(logs, f"convert_{split}.log")),
                         here=functools.partial(_convert, [text[split]], vocab, output, options))
            data[split] = os.path.join(output, "*.tfrecord")
        corpus = Corpus([os.path.basename(f) for f in files], heldout_every, vocab,
                        sum(1 for line in open(vocab) if line.strip()), data)
        self.log(f"data ready: {', '.join(corpus.files)}, vocabulary {corpus.vocab_size} tokens, "
                 f"TFRecords under {directory}")
        return corpus

    def unigram(self, corpus):
        """The unigram predictor's loss on exactly the evaluated masked
        positions of `corpus`."""
        s = self.scale
        train = masked_labels(corpus.data["train"], s)
        heldout = masked_labels(corpus.data["heldout"], s, s.eval_batches)
        loss = unigram_cross_entropy(*train, *heldout, corpus.vocab_size)
        self.log(f"unigram held-out loss {loss:.4f} ({int(heldout[1].sum())} masked positions of "
                 f"{', '.join(corpus.files)})")
        return loss

    # --- configuration of one arm ---
    def arm(self, name, steps=None):
        """(experiment, layers, keep_k, steps, learning-rate warm-up steps)
        of an arm run for `steps` (default: `default_steps`)."""
        s = self.scale
        planned = default_steps(s, name)
        steps = steps or planned
        # One warm-up length per kind of run (pretraining, continuation), so
        # its runs differ only after it; token_drop_baseline_cost is a run
        # planned for its own steps.
        warmup = max(1, (steps if name == "token_drop_baseline_cost" else planned) // 10)
        if name in DROPPING:
            return "token_drop_bert/pretraining", s.layers, s.seq // 2, steps, warmup
        layers = self.dense_layers if name == "small_dense" else s.layers
        return "bert/pretraining", layers, None, steps, warmup

    def run_name(self, name, seed):
        """Model-dir (and fine-tune) name of `name` pretrained with `seed`."""
        return name if seed == self.args.seed else f"{name}_seed{seed}"

    def table_warmup_steps(self, name):
        return self.scale.table_warmup_steps if name in WARMED else 0

    def params_override(self, name, steps, seed=None):
        s = self.scale
        experiment, layers, keep, steps, warmup = self.arm(name, steps)
        corpus = self.corpora[corpus_of(name)]
        interval = max(1, math.ceil(steps / self.args.evaluations))
        data = {"seq_length": s.seq, "max_predictions_per_seq": s.predictions, "global_batch_size": s.batch}
        task = {
            "seed": self.args.seed if seed is None else seed,
            "vocab_file": corpus.vocab,
            "model": {"encoder": {"any": {
                "vocab_size": corpus.vocab_size, "hidden_size": s.hidden, "num_layers": layers,
                "num_attention_heads": s.heads, "intermediate_size": s.inner,
                "max_position_embeddings": s.seq, "dropout_rate": s.dropout,
                "attention_dropout_rate": s.dropout, "token_keep_k": keep,
                "token_allow_list": ALLOW, "token_deny_list": DENY,
                **(VARIANTS[name](s) if name in VARIANTS else {}),
            }}},
            "train_data": {"input_path": corpus.data["train"], **data},
            "validation_data": {"input_path": corpus.data["heldout"], **data},
        }
        if name in CONTINUATIONS:
            # What a user sets to continue a model: general's model_dir
            # (weights only; the table, optimizer and step start fresh).
            task["init_checkpoint"] = os.path.join(self.work, self.run_name("general", self.args.seed))
        if self.table_warmup_steps(name):
            task["token_table_warmup_steps"] = self.table_warmup_steps(name)
        return experiment, {
            "task": task,
            "trainer": {
                "train_steps": steps, "checkpoint_interval": interval, "max_to_keep": 2,
                "steps_per_loop": interval, "summary_interval": interval,
                "validation_interval": interval, "validation_steps": s.eval_batches,
                "optimizer_config": {
                    "learning_rate": {"polynomial": {"initial_learning_rate": s.learning_rate,
                                                     "decay_steps": steps}},
                    "warmup": {"polynomial": {"warmup_steps": warmup}},
                },
            },
            "runtime": {"distribution_strategy": "one_device", "enable_xla": s.xla},
        }

    def params(self, name, steps=None, seed=None):
        """The arm's experiment config."""
        return experiment_configs.experiment(*self.params_override(name, steps, seed))

    def encoder(self, name):
        """The arm's encoder (what its steps cost is its to say)."""
        return build_pretrainer(self.params(name).task).encoder

    def cost(self, name, mode_seconds, bench):
        s = self.scale
        return ArmCost(self.encoder(name), mode_seconds, s.seq, s.predictions, s.batch,
                       self.table_warmup_steps(name), bench.get("warmup_seconds", {}).get(name, 0.0))

    # --- interleaved step-time benchmark ---
    def benchmark(self):
        """Seconds per step of every training mode of every timed arm (one
        mode for a plain arm), and of every table warm-up, all in one
        interleaved benchmark."""
        # One file per study name: two studies sharing a work dir time
        # different arms, and a report re-rendered later must reuse the
        # seconds its arms were sized by, not the other study's retake.
        path = os.path.join(self.work, f"step_seconds.{self.args.name}.json")
        names = list(dict.fromkeys(TIMED_AS.get(n, n) for n in self.runs if n in TRAINED))
        warmed = [n for n in self.runs if n in WARMED]
        if os.path.exists(path):
            with open(path) as f:
                cached = json.load(f)
            if set(names) <= set(cached["step_seconds"]) and set(warmed) <= set(cached.get("warmup_seconds", {})):
                return cached
        contenders, modes = {}, {}  # label -> contender; arm -> its modes' labels
        with tempfile.TemporaryDirectory() as directory:
            resident = {}  # timed arm -> (its trainable, its batch)
            for name in names:
                params = self.params(name)
                params.validate()
                runner = Runner(params.task, params.trainer, params.runtime, os.path.join(directory, name),
                                tf.distribute.get_strategy())
                trainer = runner.trainable
                batch = next(iter(runner.task.build_inputs("train")))
                resident[name] = trainer, batch
                encoder = trainer.model.encoder
                # A step of each mode: the first step the run takes in it.
                index = np.asarray(encoder.training_mode_index(np.arange(self.scale.steps)))
                for mode in range(len(encoder.training_modes)):
                    label = mode_label(name, mode)
                    modes.setdefault(name, []).append(label)
                    contenders[label] = (trainer.optimizer.iterations, int(np.argmax(index == mode)),
                                         functools.partial(trainer.train_step, batch))
            for name in warmed:  # its model's warm-up step, on the same batch
                trainer, batch = resident[TIMED_AS.get(name, name)]
                contenders[warmup_label(name)] = (
                    trainer.optimizer.iterations, 0, functools.partial(trainer.table_warmup_step, batch))
            rounds, per_round = self.scale.bench_rounds, self.scale.bench_steps
            load = os.getloadavg()[0]
            times = time_steps(contenders, rounds, per_round, self.log)
        median = {label: statistics.median(t) for label, t in times.items()}
        mode_seconds = {n: [median[label] for label in labels] for n, labels in modes.items()}
        result = {"step_seconds": {n: v[0] for n, v in mode_seconds.items()}, "mode_seconds": mode_seconds,
                  "warmup_seconds": {n: median[warmup_label(n)] for n in warmed},
                  "rounds": times, "steps_per_round": per_round, "load_before": load,
                  "load_after": os.getloadavg()[0]}
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
        corpus = self.corpora.get("corpus")
        self.dense_layers = closest_dense_layers(self.scale, corpus.vocab_size) if corpus else None
        unigrams = {name: self.unigram(c) for name, c in self.corpora.items()}
        bench = self.benchmark() if any(r in TRAINED for r in self.runs) else {"step_seconds": {}}
        runs, extra_seeds = self.pretrain_arms(*step_budget(self.scale, bench), bench)
        if "no_pretraining" in self.runs:
            runs["no_pretraining"] = {"steps": 0, "step_seconds": 0.0, "train_seconds": 0.0, "wall_seconds": 0.0,
                                      "flops": 0, "final_heldout_loss": None, "seconds_to_baseline_loss": None,
                                      "flops_to_baseline_loss": None, "layers": self.scale.layers, "keep_k": None}
        FineTuning(self).rounds(unigrams, runs, bench, extra_seeds)
        if not self.tasks:
            Report(self, unigrams, runs, {}, bench).write()

    def pretrain_arms(self, steps, mode_seconds, bench):
        """Pretrains every trained arm (and the further seeds of the seeded
        ones); returns (runs with their costs, the further seeds)."""
        args, s = self.args, self.scale
        runs, self.costs = {}, {}
        for name in (r for r in self.runs if r in TRAINED):
            run = self.pretrain(name, steps[name], args.seed)
            cost = self.costs[name] = self.cost(name, mode_seconds[name], bench)
            run.update(cost.totals(steps[name]), layers=cost.encoder.num_layers, keep_k=cost.encoder.token_keep_k)
            if name in VARIANTS:
                run["variant"] = VARIANTS[name](s)
            runs[name] = run
        # Further seeds of the seeded arms, after every arm's first seed so
        # that a short budget still completes one comparison.
        extra_seeds = self.extra_seeds()
        for seed in extra_seeds:
            for name in (r for r in self.runs if r in SEEDED):
                runs[name].setdefault("other_seeds", {})[str(seed)] = self.pretrain(name, steps[name], seed)
        for name, run in runs.items():
            reference = reference_of(name)
            if reference not in runs:
                continue
            run["reference"] = reference
            reach_baseline(run, runs[reference], self.costs[name], self.costs[reference])
            for seed, one in run.get("other_seeds", {}).items():
                reach_baseline(one, runs[reference]["other_seeds"][seed], self.costs[name], self.costs[reference])
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
        params = self.study.params("baseline", seed=seed)
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

    def rounds(self, unigrams, runs, bench, extra_seeds):
        """Fine-tuning in rounds, the experiment seed's models first (with
        the control), then each further pretraining seed's; a report after
        every task of every round, so a study stopped midway keeps its tables."""
        args, results = self.study.args, {}  # arm -> task -> pretraining seed -> [fine-tune results]
        slices = {task: self.task_slices(task) for task in self.study.tasks}
        for round_seed in ([args.seed] + extra_seeds) if self.study.tasks else []:
            for task in self.study.tasks:
                for arm in (a for a in self.study.runs if a in FINETUNED):
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
                Report(self.study, unigrams, runs, finetune_summary(results), bench).write()


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
    its training mode (schedule stage, full step), after the
    `warmup_steps` batches of its table warm-up at `warmup_seconds` each
    (forward passes); a fractional step takes that share of the next
    step's cost."""

    def __init__(self, encoder, mode_seconds, seq, predictions, batch, warmup_steps=0, warmup_seconds=0.0):
        self.encoder, self.mode_seconds = encoder, list(mode_seconds)
        self.seq, self.predictions, self.batch = seq, predictions, batch
        self.warmup_steps, self.warmup_seconds = warmup_steps, warmup_seconds

    def _run_cost(self, step, steps_cost):
        """`steps_cost(first, last)` of the steps `[0, step)`, the last one
        possibly a fraction of a step."""
        whole = int(math.floor(step))
        part = step - whole
        total = steps_cost(0, whole)
        return total + part * steps_cost(whole, whole + 1) if part else total

    def warmup(self):
        """(step-seconds, FLOPs) of the table warm-up before step 0."""
        from official_tokendrop.models.flops import table_warmup_flops

        return (self.warmup_steps * self.warmup_seconds,
                table_warmup_flops(self.encoder, self.seq, self.predictions, self.batch, self.warmup_steps))

    def seconds(self, step):
        schedule = self.encoder.schedule
        return self.warmup()[0] + self._run_cost(step, lambda first, last: schedule.run_cost(
            first, last, lambda index: self.mode_seconds[index]))

    def flops(self, step):
        # Imported here, as the module's other TensorFlow users: the study
        # process sets TensorFlow's log level before anything loads it.
        from official_tokendrop.models.flops import encoder_run_flops

        return self.warmup()[1] + self._run_cost(step, lambda first, last: encoder_run_flops(
            self.encoder, self.seq, self.predictions, self.batch, first, last))

    def totals(self, steps):
        """The run's train_seconds and flops (the table warm-up's
        included), the means per training step, and the warm-up's share."""
        single = len(self.mode_seconds) == 1
        warmup_seconds, warmup_flops = self.warmup()
        seconds = warmup_seconds + steps * self.mode_seconds[0] if single else self.seconds(steps)
        flops = self.flops(steps)
        totals = {"step_seconds": self.mode_seconds[0] if single else (seconds - warmup_seconds) / steps,
                  "step_flops": (flops - warmup_flops) / steps, "train_seconds": seconds, "flops": flops,
                  "mode_seconds": self.mode_seconds}
        if self.warmup_steps:
            totals.update(table_warmup_steps=self.warmup_steps, table_warmup_seconds=warmup_seconds,
                          table_warmup_flops=warmup_flops)
        return totals


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

    def __init__(self, study, unigrams, runs, finetune, bench):
        self.study, self.unigrams, self.runs, self.finetune, self.bench = study, unigrams, runs, finetune, bench
        self.unigram = unigrams.get("corpus")  # the whole corpus's, which most arms share

    def seeds_of(self, arm):
        """[(seed, run)] of every pretraining seed of `arm`, the experiment seed first."""
        return seeds_of(self.runs, arm, str(self.study.args.seed))

    def arms_of(self, corpus):
        """The runs' arms evaluated on `corpus` (see `corpus_of`)."""
        return [arm for arm in self.runs if corpus_of(arm) == corpus]

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
        # Each arm against its reference (`reference_of`: the baseline, or
        # continued_dense for the continuations); the keys keep their names.
        ratios, ratios_by_seed = {}, {}
        for arm, run in self.runs.items():
            reference = self.runs.get(run.get("reference"))
            for seed, one in self.seeds_of(arm) if reference else []:
                if one.get("seconds_to_baseline_loss") is not None:
                    ratios_by_seed.setdefault(arm, {})[seed] = {
                        "seconds": one["seconds_to_baseline_loss"] / reference["train_seconds"],
                        "flops": one["flops_to_baseline_loss"] / reference["flops"]}
            if str(st.args.seed) in ratios_by_seed.get(arm, {}):
                ratios[arm] = ratios_by_seed[arm][str(st.args.seed)]
        corpus = st.corpora.get("corpus")
        summary = {
            "name": st.args.name, "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores", "study_wall_seconds": time.time() - st.start,
            "seed": st.args.seed, "scale": dataclasses.asdict(s), "vocab_size": corpus.vocab_size if corpus else None,
            "small_dense_layers": st.dense_layers, "evaluations_per_run": st.args.evaluations,
            "unigram_heldout_loss": self.unigram, "benchmark": self.bench,
            "corpora": {name: {"files": c.files, "heldout_every": c.heldout_every, "vocab": c.vocab,
                               "vocab_size": c.vocab_size, "unigram_heldout_loss": self.unigrams[name]}
                        for name, c in st.corpora.items()},
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
        """Held-out loss against step-seconds and FLOPs: the arms of the
        whole corpus, and the continuations on the domain's held-out set."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for corpus, prefix, what in (("corpus", "", "held-out"), ("domain", "domain_", "domain held-out")):
            arms = [arm for arm in self.arms_of(corpus) if "curve" in self.runs[arm]]
            for axis, label, file in (
                    ("seconds", "step-seconds (each step at its mode's measured s/step, 2-core CPU)",
                     f"{prefix}heldout_loss_vs_step_seconds.png"),
                    ("flops", "training FLOPs (FLOP model)", f"{prefix}heldout_loss_vs_flops.png")):
                if not arms:
                    continue
                plt.figure(figsize=(7, 4.5))
                for arm in arms:
                    color = None
                    for seed, one in self.seeds_of(arm):
                        steps, loss, _ = zip(*one["curve"])
                        cost = getattr(self.study.costs[arm], axis)
                        line, = plt.plot([cost(x) for x in steps], loss, marker=".", color=color,
                                         linestyle="-" if color is None else ":",
                                         label=f"{arm} ({self.runs[arm]['steps']} steps, seed {seed})")
                        color = line.get_color()
                plt.axhline(self.unigrams[corpus], color="gray", linestyle="--", label="unigram predictor")
                plt.xlabel(label)
                plt.ylabel(f"{what} MLM loss (full encoder)")
                plt.legend()
                plt.grid(alpha=0.3)
                plt.savefig(os.path.join(self.study.out, file), dpi=100, bbox_inches="tight")
                plt.close()

    def markdown(self, summary):
        st, s = self.study, self.study.scale
        tasks = st.tasks
        corpora = st.corpora
        vocabulary = "; ".join(f"{name} {c.vocab_size}" for name, c in corpora.items() if name != "domain")
        lines = [f"# {st.args.name}", "",
                 f"{s.layers}-layer, {s.hidden}-wide BERT ({s.heads} heads, FFN {s.inner}), seq {s.seq}, "
                 f"{s.predictions} predictions, batch {s.batch}, keep {s.seq // 2} for token dropping, "
                 f"vocabulary {vocabulary}, dropout {s.dropout}, lr {s.learning_rate} (10% of {s.steps} "
                 f"steps warm-up, linear decay), seed {st.args.seed}"
                 + ("" if st.dense_layers is None else f"; small_dense has {st.dense_layers} layers") + ". "
                 f"{summary['machine']}; {summary['date']}; this invocation "
                 f"{summary['study_wall_seconds'] / 60:.0f} min (finished stages are reused), the pretraining runs "
                 f"{summary['pretraining_wall_seconds'] / 60:.0f} min of wall-clock in all.",
                 "", f"Command: `{summary['command']}`", ""]
        plots = []
        if self.arms_of("corpus"):
            lines += [f"Unigram predictor's held-out loss: **{self.unigram:.3f}**", "",
                      "| run | steps | s/step | step-seconds | TFLOPs | wall s | held-out loss | below unigram | "
                      "step-s to baseline loss | TFLOPs to baseline loss |" + "".join(f" {task} |" for task in tasks),
                      "| --- " * (10 + len(tasks)) + "|"]
            lines += self.table_rows(self.arms_of("corpus"), tasks, self.unigram)
            lines += ["", "Fine-tuned accuracy per row: mean ± spread (number of fine-tunes) of that pretraining "
                      "seed; the goals pool every pretraining seed of an arm."]
            plots += ["heldout_loss_vs_step_seconds.png", "heldout_loss_vs_flops.png"]
        if "general" in self.runs:
            general, domain = self.runs["general"], corpora["domain"]
            lines += ["", f"## Continued pretraining on {', '.join(domain.files)}", "",
                      f"general: {general['steps']} dense steps on {', '.join(corpora['general'].files)} "
                      f"(vocabulary {corpora['general'].vocab_size}, learned from them), held-out loss "
                      f"{general['final_heldout_loss']:.3f} on their held-out lines (unigram "
                      f"{self.unigrams['general']:.3f}). Each continuation starts from it through "
                      f"task.init_checkpoint, {s.continue_steps} steps (lr warm-up {max(1, s.continue_steps // 10)}, "
                      f"linear decay), evaluated on every {domain.heldout_every}th line of the domain; the domain's "
                      f"unigram predictor: **{self.unigrams['domain']:.3f}**. The seeds of a continuation are its "
                      "data order and masking, from the one general model.", "",
                      "| run | steps | s/step | step-seconds | TFLOPs | wall s | domain held-out loss | below "
                      "unigram | step-s to continued_dense loss | TFLOPs to continued_dense loss |",
                      "| --- " * 10 + "|"]
            lines += self.table_rows(self.arms_of("domain"), [], self.unigrams["domain"])
            plots += ["domain_heldout_loss_vs_step_seconds.png", "domain_heldout_loss_vs_flops.png"]
        lines += ["", "Against the goals:"] + self.goals(summary) + ["", "Details:"]
        lines += self.details(summary, tasks)
        b = self.bench
        if b.get("rounds"):
            lines += ["", f"Step-seconds: medians of {len(next(iter(b['rounds'].values())))} interleaved rounds of "
                      f"{b['steps_per_round']} steps on one resident batch (load average {b['load_before']:.2f} "
                      f"before, {b['load_after']:.2f} after), every arm's training modes and table warm-up in "
                      "them. " + " ".join(f"{arm} runs for the steps whose step-seconds equal {sizing}'s."
                                          for arm, sizing in SIZED_BY.items() if arm in self.runs)]
        lines += ["", f"Every number: results.json. Commands: commands.txt. Plots: {', '.join(plots)}.", ""]
        return "\n".join(lines)

    def table_rows(self, arms, tasks, unigram):
        """A results table's rows: one per arm of `arms` and pretraining
        seed, its loss below `unigram`."""
        st, lines = self.study, []
        for arm in arms:
            run = self.runs[arm]
            for seed, one in self.seeds_of(arm) if "curve" in run else [(str(st.args.seed), run)]:
                loss = one.get("final_heldout_loss")
                cells = [arm if one is run else f"{arm} seed {seed}", str(run["steps"]),
                         f"{run['step_seconds']:.3f}", f"{run['train_seconds']:.0f}",
                         f"{run['flops'] / 1e12:.1f}", f"{one['wall_seconds']:.0f}",
                         "-" if loss is None else f"{loss:.3f}",
                         "-" if loss is None else f"{unigram - loss:.3f}",
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
        compared = ("token_drop", "baseline_equal_cost", "small_dense", *VARIANTS, *FROM_SCRATCH, *CONTINUATIONS[1:])
        for arm in compared:
            reference = reference_of(arm)
            for seed, one in self.seeds_of(arm) if arm in self.runs else []:
                r = ratios.get(arm, {}).get(seed)
                own = one.get("own_loss_vs_baseline")
                lines.append(f"- {arm} (seed {seed}) reaches the same seed's {reference} final held-out loss "
                             + ("never within its run" if r is None else
                                f"at {r['seconds']:.3f} of the {reference}'s step-seconds and "
                                f"{r['flops']:.3f} of its FLOPs")
                             + ("." if own is None else
                                f"; the {reference} reaches {arm}'s final loss ({one['final_heldout_loss']:.3f}) at "
                                f"step {one['baseline_steps_to_own_loss']:.0f}, and to that loss {arm} costs "
                                f"{own['seconds']:.3f} of the {reference}'s step-seconds and {own['flops']:.3f} "
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
                     for arm in ("baseline", "token_drop")}
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
        seed = str(self.study.args.seed)
        return (lines + baseline_cost_goals(runs, seed)
                + continued_goals(runs, seed, summary["to_baseline_loss_vs_baseline_by_seed"]))


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
    parser.add_argument("--runs", default=",".join(ARMS), help=f"comma-separated, from: {', '.join(KNOWN)}")
    parser.add_argument("--tasks", default=",".join(TASKS), help="fine-tuning tasks (empty: none)")
    parser.add_argument("--scale", default="study", choices=sorted(SCALES))
    parser.add_argument("--steps", type=int, default=None,
                        help="N (default: the scale's; the continuations run the scale's continue_steps)")
    parser.add_argument("--seed", type=int, default=0, help="experiment seed: init, data order, dropout")
    parser.add_argument("--evaluations", type=int, default=25, help="held-out evaluations per run")
    parser.add_argument("--pretrain_seeds", type=int, default=2,
                        help=f"seeds of {', '.join(SEEDED)} (--seed, --seed + 1, ...; the continuations' "
                             "are continuation seeds from the one general model)")
    parser.add_argument("--finetune_seeds", type=int, default=2, help="per pretrained model")
    parser.add_argument("--control_seeds", type=int, default=3, help="seeds of no_pretraining")
    parser.add_argument("--corpus_dir", default=os.path.join(root, "..", "shared", "data", "corpus"))
    parser.add_argument("--corpus_lines", type=int, default=0, help="lines read per corpus file (0: all)")
    parser.add_argument("--domain_file", default="sqlite_docs.txt",
                        help="the corpus file that general leaves out and the continuations train on")
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
        if any(r in CONTINUED for r in runs):
            check_domain_file(args.domain_file, args.corpus_dir, files)
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
