"""The study's fine-tuning: task slices, presets (exported or randomly
initialised) and the fine-tunes, in rounds."""

import json
import os

import keras
import numpy as np

from official_tokendrop.core.pretrainers import build_pretrainer
from official_tokendrop.data.task_rows import read_task_file, write_task_file
from official_tokendrop.interop.keras_hub import to_keras_hub_masked_lm

from .arms import ARMS

TASKS = {"wn_supersense": 32, "wn_gloss_match": 48}  # task -> fine-tuning sequence length


def task_files(tasks_dir, task):
    """{split: path} of `task`'s train, dev and test files in `tasks_dir`."""
    return {split: os.path.join(tasks_dir, f"{task}.{split}.tsv") for split in ("train", "dev", "test")}


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


class FineTuning:
    """Fine-tunes a study's models on its tasks.

    Args:
        stages: `stages.Stages`, the work dir and its logs.
        configs: `configs.Configs`, the arms' experiment configs.
        tasks: list of str, the tasks (keys of `TASKS`).
        tasks_dir: str, the directory of the tasks' files.
        finetune_seeds: int, fine-tunes per pretrained model.
        control_seeds: int, seeds of no_pretraining.
    """

    def __init__(self, stages, configs, tasks, tasks_dir, finetune_seeds, control_seeds):
        self.stages, self.configs, self.tasks, self.tasks_dir = stages, configs, tasks, tasks_dir
        self.finetune_seeds, self.control_seeds = finetune_seeds, control_seeds

    def export(self, label):
        """Model_dir `label` as a keras-hub preset (exported once)."""
        model_dir = os.path.join(self.stages.work, label)
        preset = os.path.join(model_dir, "export")
        if not os.path.exists(os.path.join(preset, "config.json")):
            self.stages.run(self.stages.program("official_tokendrop.export", f"--model_dir={model_dir}",
                                                f"--output={preset}"), f"{label}_export.log")
        return preset

    def random_preset(self, seed):
        """The baseline architecture, randomly initialised with `seed`, as a preset."""
        preset = os.path.join(self.stages.work, "no_pretraining", f"export_seed{seed}")
        if os.path.exists(os.path.join(preset, "config.json")):
            return preset
        params = self.configs.params("baseline", seed=seed)
        # The study's own record: this step runs here, not as a command.
        self.stages.record(f"# {preset}: build_pretrainer(baseline task, seed {seed}) -> keras-hub preset")
        keras.utils.set_random_seed(seed)  # initialisation of this model only
        model = build_pretrainer(params.task)
        to_keras_hub_masked_lm(model, params.task.vocab_file, params.task.train_data.seq_length
                               ).save_to_preset(preset)
        return preset

    def task_slices(self, task):
        """{split: path} of `task`'s slices in the work dir: the scale's
        examples of each split, in one seeded order."""
        s, paths, seen = self.configs.scale, {}, None
        sources = task_files(self.tasks_dir, task)
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

    def finetune(self, label, preset, task, paths, seed):
        """The fine-tuning results of `preset` on `task` with `seed` (reused
        when the work dir holds them)."""
        s = self.configs.scale
        result_file = os.path.join(self.stages.work, "finetune", f"{label}.{task}.seed{seed}.json")
        os.makedirs(os.path.dirname(result_file), exist_ok=True)
        if not os.path.exists(result_file):
            self.stages.run(self.stages.program(
                "official_tokendrop.finetune", f"--preset={preset}", f"--train={paths['train']}",
                f"--validation={paths['dev']}", f"--test={paths['test']}", f"--output={result_file}.tmp",
                f"--epochs={s.finetune_epochs}", f"--learning_rate={s.finetune_learning_rate}",
                f"--sequence_length={min(TASKS[task], s.seq)}", f"--seed={seed}"),
                f"finetune_{label}.{task}.seed{seed}.log")
            os.replace(result_file + ".tmp", result_file)
        with open(result_file) as f:
            return json.load(f)

    def round_of(self, arm, round_seed, task, paths):
        """{pretraining seed: [fine-tune results]} of `arm` in the round of
        `round_seed` (None: nothing of it in this round). The control runs
        with the experiment seed's round, once per control seed."""
        first = round_seed == self.configs.seed
        if arm == "no_pretraining":
            return {str(seed): [self.finetune(arm, self.random_preset(seed), task, paths, seed)]
                    for seed in range(self.control_seeds)} if first else None
        if not (first or ARMS[arm].seeded):
            return None
        label = self.configs.run_name(arm, round_seed)
        return {str(round_seed): [self.finetune(label, self.export(label), task, paths, f)
                                  for f in range(self.finetune_seeds)]}

    def __call__(self, runs, seeds, write):
        """Fine-tuning in rounds, the experiment seed's models first (with
        the control), then each further pretraining seed's; `write(summary)`
        after every task of every round, so a study stopped midway keeps
        its tables."""
        results = {}  # arm -> task -> pretraining seed -> [fine-tune results]
        slices = {task: self.task_slices(task) for task in self.tasks}
        for round_seed in seeds if self.tasks else []:
            for task in self.tasks:
                for arm in (a for a in runs if ARMS[a].finetuned):
                    got = self.round_of(arm, round_seed, task, slices[task])
                    if got is None:
                        continue
                    results.setdefault(arm, {}).setdefault(task, {}).update(got)
                    scores = [r["test"]["accuracy"] for r in sum(got.values(), [])]
                    self.stages.log(f"fine-tuned {arm} (pretraining seed {round_seed}) on {task}: "
                                    f"{np.mean(scores):.3f} ± {np.std(scores):.3f} ({len(scores)} fine-tunes)")
                write(finetune_summary(results))
