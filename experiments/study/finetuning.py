"""The study's fine-tuning: task files, slices, presets (exported, randomly
initialised, or the released model as it ships) and the fine-tunes at each
learning rate of the grid, in rounds."""

import json
import os

import keras
import numpy as np

from official_tokendrop.core.pretrainers import build_pretrainer
from official_tokendrop.data.task_rows import read_task_file, write_task_file
from official_tokendrop.interop.keras_hub import to_keras_hub_masked_lm

from . import domain_task
from .arms import ARMS

# task -> fine-tuning sequence length; the in-domain task is built from
# the domain file (`domain_task`), the others are read from --tasks_dir.
TASKS = {"wn_supersense": 32, "wn_gloss_match": 48, "convention_party": 64, domain_task.NAME: 64}
DEFAULT_TASKS = ("wn_supersense", "wn_gloss_match")
BUILT = (domain_task.NAME,)


def task_files(tasks_dir, task):
    """{split: path} of `task`'s train, dev and test files in `tasks_dir`."""
    return {split: os.path.join(tasks_dir, f"{task}.{split}.tsv") for split in ("train", "dev", "test")}


def task_sources(tasks, tasks_dir, corpora, work):
    """{task: {split: source file}} of `tasks`: the shared tasks' files in
    `tasks_dir`; the in-domain task built (once) from the held-out split of
    the domain file's corpus among `corpora`."""
    domain = corpora.get("released") or corpora.get("domain")
    return {task: domain_task.build(domain.text["heldout"], os.path.join(work, "domain_task"))
            if task in BUILT else task_files(tasks_dir, task) for task in tasks}


def rate_key(rate):
    """A learning rate as results.json's keys and the file names write it."""
    return f"{rate:g}"


def mean_dev_accuracy(by_rate):
    """{rate: mean validation accuracy} of {rate: [fine-tune results]}."""
    return {rate: float(np.mean([r["validation"]["accuracy"] for r in runs])) for rate, runs in by_rate.items()}


def picked_rate(dev):
    """The learning rate (a `rate_key`) of {rate: mean dev accuracy} with
    the highest; ties go to the smaller rate."""
    return max(sorted(dev, key=float), key=lambda rate: dev[rate])


def finetune_summary(results):
    """arm -> task -> at the learning rate picked on dev (`picked_rate`
    over every fine-tune of the arm): test accuracy mean, std and scores
    over every (pretraining seed, fine-tuning seed), the scores by
    pretraining seed, and each rate's mean dev accuracy."""
    summary = {}
    for arm, tasks in results.items():
        for task, by_rate in tasks.items():
            dev = mean_dev_accuracy({r: sum(by_seed.values(), []) for r, by_seed in by_rate.items()})
            rate = picked_rate(dev)
            by_seed = by_rate[rate]
            scores = [r["test"]["accuracy"] for seed in by_seed for r in by_seed[seed]]
            summary.setdefault(arm, {})[task] = {
                "mean": float(np.mean(scores)), "std": float(np.std(scores)), "seeds": scores,
                "by_pretraining_seed": {seed: [r["test"]["accuracy"] for r in v] for seed, v in by_seed.items()},
                "majority_baseline": next(iter(by_seed.values()))[0]["majority_baseline"],
                "learning_rate": float(rate), "dev_by_learning_rate": dev}
    return summary


class FineTuning:
    """Fine-tunes a study's models on its tasks, each at every learning rate
    of the scale's grid.

    Args:
        stages: `stages.Stages`, the work dir and its logs.
        configs: `configs.Configs`, the arms' experiment configs.
        tasks: dict, task (a key of `TASKS`) -> {split: its source file}.
        finetune_seeds: int, fine-tunes per pretrained model.
        control_seeds: int, fine-tunes of each arm not pretrained here (each
            random one with its own initialisation).
    """

    def __init__(self, stages, configs, tasks, finetune_seeds, control_seeds):
        self.stages, self.configs, self.tasks = stages, configs, tasks
        self.finetune_seeds, self.control_seeds = finetune_seeds, control_seeds

    def export(self, label):
        """Model_dir `label` as a keras-hub preset (exported once)."""
        model_dir = os.path.join(self.stages.work, label)
        preset = os.path.join(model_dir, "export")
        if not os.path.exists(os.path.join(preset, "config.json")):
            self.stages.run(self.stages.program("official_tokendrop.export", f"--model_dir={model_dir}",
                                                f"--output={preset}"), f"{label}_export.log")
        return preset

    def random_preset(self, arm, seed):
        """The model of `arm` (not pretrained: its corpus's dense
        architecture and vocabulary), randomly initialised with `seed`, as a
        preset."""
        preset = os.path.join(self.stages.work, arm, f"export_seed{seed}")
        if os.path.exists(os.path.join(preset, "config.json")):
            return preset
        params = self.configs.params(arm, seed=seed)
        # The study's own record: this step runs here, not as a command.
        self.stages.record(f"# {preset}: build_pretrainer({arm} task, seed {seed}) -> keras-hub preset")
        keras.utils.set_random_seed(seed)  # initialisation of this model only
        model = build_pretrainer(params.task)
        to_keras_hub_masked_lm(model, params.task.vocab_file, params.task.train_data.seq_length
                               ).save_to_preset(preset)
        return preset

    def control_preset(self, arm, seed):
        """The preset of `arm`, not pretrained here, for its control `seed`:
        the released model as it ships, or random weights."""
        return self.configs.released if ARMS[arm].shipped else self.random_preset(arm, seed)

    def task_slices(self, task):
        """{split: path} of `task`'s slices in the work dir: the scale's
        examples of each split, in one seeded order."""
        s, paths, seen = self.configs.scale, {}, None
        sources = self.tasks[task]
        for split, limit in (("train", s.finetune_examples), ("dev", s.finetune_eval_examples),
                             ("test", s.finetune_eval_examples)):
            paths[split] = os.path.join(self.stages.work, "tasks", f"{task}.{split}.tsv")
            os.makedirs(os.path.dirname(paths[split]), exist_ok=True)
            rows = read_task_file(sources[split])
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

    def finetune(self, label, preset, task, paths, seed, rate):
        """The fine-tuning results of `preset` on `task` with `seed` at the
        learning rate `rate` (reused when the work dir holds them)."""
        s = self.configs.scale
        name = f"{label}.{task}.lr{rate_key(rate)}.seed{seed}"
        result_file = os.path.join(self.stages.work, "finetune", f"{name}.json")
        os.makedirs(os.path.dirname(result_file), exist_ok=True)
        if not os.path.exists(result_file):
            self.stages.run(self.stages.program(
                "official_tokendrop.finetune", f"--preset={preset}", f"--train={paths['train']}",
                f"--validation={paths['dev']}", f"--test={paths['test']}", f"--output={result_file}.tmp",
                f"--epochs={s.finetune_epochs}", f"--learning_rate={rate}",
                f"--sequence_length={min(TASKS[task], s.seq)}", f"--seed={seed}"), f"finetune_{name}.log")
            os.replace(result_file + ".tmp", result_file)
        with open(result_file) as f:
            return json.load(f)

    def round_of(self, arm, round_seed, task, paths, rate):
        """{pretraining seed: [fine-tune results]} of `arm` at `rate` in the
        round of `round_seed` (None: nothing of it in this round). An arm
        not pretrained here runs with the experiment seed's round, once per
        control seed."""
        first = round_seed == self.configs.seed
        if not ARMS[arm].pretrains:
            return {str(seed): [self.finetune(arm, self.control_preset(arm, seed), task, paths, seed, rate)]
                    for seed in range(self.control_seeds)} if first else None
        if not (first or ARMS[arm].seeded):
            return None
        label = self.configs.run_name(arm, round_seed)
        return {str(round_seed): [self.finetune(label, self.export(label), task, paths, f, rate)
                                  for f in range(self.finetune_seeds)]}

    def __call__(self, runs, seeds, write):
        """Fine-tuning in rounds, the experiment seed's models first (with
        the controls), then each further pretraining seed's; `write(summary)`
        after every task of every round, so a study stopped midway keeps
        its tables."""
        results = {}  # arm -> task -> learning rate -> pretraining seed -> [fine-tune results]
        slices = {task: self.task_slices(task) for task in self.tasks}
        for round_seed in seeds if self.tasks else []:
            for task in self.tasks:
                for arm in (a for a in runs if ARMS[a].finetuned):
                    for rate in self.configs.scale.finetune_learning_rates:
                        got = self.round_of(arm, round_seed, task, slices[task], rate)
                        if got is None:
                            break
                        results.setdefault(arm, {}).setdefault(task, {}).setdefault(rate_key(rate), {}).update(got)
                        scores = [r["test"]["accuracy"] for r in sum(got.values(), [])]
                        self.stages.log(f"fine-tuned {arm} (pretraining seed {round_seed}) on {task} at lr "
                                        f"{rate_key(rate)}: {np.mean(scores):.3f} ± {np.std(scores):.3f} "
                                        f"({len(scores)} fine-tunes)")
                write(finetune_summary(results))
