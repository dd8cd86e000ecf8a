"""results.json: every number of a study, in one file that the report
reads alone; and commands.txt, the commands that computed them."""

import dataclasses
import json
import os
import platform
import time

RESULTS, COMMANDS = "results.json", "commands.txt"


def seeds_of(runs, arm, seed):
    """[(seed, run)] of every pretraining seed of `arm` in `runs`, the
    experiment `seed` (a string) first."""
    run = runs[arm]
    return [(seed, run)] + list(run.get("other_seeds", {}).items())


def read_results(directory):
    """The results.json of the results directory `directory`."""
    with open(os.path.join(directory, RESULTS)) as f:
        return json.load(f)


def benefits(finetune):
    """(fine-tuned accuracy minus no_pretraining's, the share of the
    baseline's of it that each arm keeps), arm -> task -> value."""
    control = finetune.get("no_pretraining", {})
    benefit = {arm: {task: tasks[task]["mean"] - control[task]["mean"] for task in tasks}
               for arm, tasks in finetune.items() if arm != "no_pretraining" and control}
    kept = {}
    for arm, tasks in benefit.items():
        base = benefit.get("baseline", {})
        kept[arm] = {task: (value / base[task] if base.get(task, 0) > 0 else None)
                     for task, value in tasks.items()}
    return benefit, kept


def ratios(runs, seed):
    """(arm -> its experiment seed's, arm -> seed -> every seed's) step-seconds
    and FLOPs to its reference's final loss as shares of what the
    reference's whole run spent (the keys keep their names: the reference
    is the baseline, or continued_dense for the continuations)."""
    by_arm, by_seed = {}, {}
    for arm, run in runs.items():
        reference = runs.get(run.get("reference"))
        for one_seed, one in seeds_of(runs, arm, seed) if reference else []:
            if one.get("seconds_to_baseline_loss") is not None:
                by_seed.setdefault(arm, {})[one_seed] = {
                    "seconds": one["seconds_to_baseline_loss"] / reference["train_seconds"],
                    "flops": one["flops_to_baseline_loss"] / reference["flops"]}
        if seed in by_seed.get(arm, {}):
            by_arm[arm] = by_seed[arm][seed]
    return by_arm, by_seed


def summary(settings, corpora, dense_layers, runs, finetune, bench, wall_seconds):
    """results.json's content: the study's `settings` (`study.Settings`),
    its `corpora` (name -> `Corpus.summary`), the smaller dense arm's
    layers, the pretraining `runs`, the `finetune` summary, the benchmark
    `bench`, the study's wall-clock seconds so far, and what follows from
    them."""
    seed = str(settings.seed)
    benefit, kept = benefits(finetune)
    by_arm, by_seed = ratios(runs, seed)
    corpus = corpora.get("corpus")
    return {
        "name": settings.name, "command": settings.command, "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "study_wall_seconds": wall_seconds, "seed": settings.seed, "scale": dataclasses.asdict(settings.scale),
        "init_checkpoint": settings.init_checkpoint,
        "vocab_size": corpus["vocab_size"] if corpus else None, "small_dense_layers": dense_layers,
        "evaluations_per_run": settings.evaluations, "tasks": list(settings.tasks),
        "unigram_heldout_loss": corpus["unigram_heldout_loss"] if corpus else None, "benchmark": bench,
        "corpora": corpora, "runs": runs, "finetune": finetune, "pretraining_benefit": benefit,
        "benefit_kept_vs_baseline": kept, "to_baseline_loss_vs_baseline": by_arm,
        "to_baseline_loss_vs_baseline_by_seed": by_seed,
        "pretraining_wall_seconds": sum(one["wall_seconds"] for arm in runs for _, one in seeds_of(runs, arm, seed)),
    }


def write(directory, results, commands, work):
    """Writes `results` as results.json and the study's command with the
    stages' `commands` (run in `work`) as commands.txt into `directory`."""
    with open(os.path.join(directory, RESULTS), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(directory, COMMANDS), "w") as f:
        f.write(f"# the study\n{results['command']}\n\n# the stages it ran (work dir {work})\n" + commands)
