"""The evaluation suite's arithmetic and tables: each task's learning rate
picked on dev, the median over seeds, the GLUE average, the paper's layout.

    summary = summarize("mrpc", {2e-5: [run, run, run], 5e-5: [...]})
    print(markdown("runs/demo/export", {"mrpc": summary}))

A run is the results dict `finetune.run_task` returns. Metrics are shown
in percent: GLUE's (fractions in a run's results) times 100, SQuAD's as
its official scripts give them. A task's score is the mean of its dev
metrics over its dev splits (`metrics.task_score`, GLUE's leaderboard
rule); the learning rate with the highest median score over seeds is
picked (ties: the smaller rate), and each metric reported is its median
over that rate's seeds, as the paper reports medians of several runs.
"""

import os

import numpy as np

from official_tokendrop.finetuning.glue_data import TASKS as GLUE_TASKS
from official_tokendrop.finetuning.metrics import task_score

SQUAD_TITLES = {"squad1.1": "SQuAD v1.1", "squad2.0": "SQuAD v2.0"}
SQUAD_METRICS = ("exact_match", "f1")
METRIC_TITLES = {"accuracy": "acc", "f1": "F1", "matthews_corr": "MCC", "pearson": "Pearson",
                 "spearman": "Spearman", "exact_match": "EM"}


def run_directory(output_dir, task, learning_rate, seed):
    return os.path.join(output_dir, "runs", task, f"lr_{learning_rate:g}", f"seed_{seed}")


def dev_metrics(task, run):
    """{dev split: {metric: percent}} of one run of `task`."""
    if task in SQUAD_TITLES:
        return {"validation": {name: float(run[name]) for name in SQUAD_METRICS}}
    glue = GLUE_TASKS[task]
    return {split: {name: 100 * float(run[split][name]) for name in glue.metrics} for split in glue.dev_splits}


def _median(task, runs):
    """Each dev metric's median over `runs`."""
    metrics = [dev_metrics(task, run) for run in runs]
    return {split: {name: float(np.median([m[split][name] for m in metrics])) for name in values}
            for split, values in metrics[0].items()}


def summarize(task, runs):
    """`runs` maps each learning rate to its runs (one per seed); returns
    the rate picked on dev, the medians of its runs' metrics, the task's
    score from them, and every rate's median score."""
    scores = {rate: float(np.median([task_score(dev_metrics(task, run)) for run in group]))
              for rate, group in runs.items()}
    best = max(sorted(scores), key=lambda rate: scores[rate])
    median = _median(task, runs[best])
    return {"learning_rate": best, "seeds": len(runs[best]), "dev": median, "score": task_score(median),
            "median_score_by_learning_rate": {f"{rate:g}": score for rate, score in scores.items()}}


def glue_average(summaries):
    """The mean score of the GLUE tasks among `summaries`, or None."""
    scores = [s["score"] for task, s in summaries.items() if task in GLUE_TASKS]
    return float(np.mean(scores)) if scores else None


def _title(task):
    if task in SQUAD_TITLES:
        return f"{SQUAD_TITLES[task]} ({'/'.join(METRIC_TITLES[m] for m in SQUAD_METRICS)})"
    glue = GLUE_TASKS[task]
    name = "MNLI-m/mm" if len(glue.dev_splits) > 1 else glue.title
    return f"{name} ({'/'.join(METRIC_TITLES[m] for m in glue.metrics)})"


def _cell(summary):
    return "/".join(f"{value:.1f}" for split in summary["dev"].values() for value in split.values())


def ordered(tasks):
    """`tasks` in the table's order: GLUE's, then SQuAD."""
    order = list(GLUE_TASKS) + list(SQUAD_TITLES)
    return sorted(tasks, key=order.index)


def markdown(preset, summaries):
    """The paper's table: one column per task with its metrics, the GLUE
    average after the GLUE tasks; then how each column was chosen."""
    tasks = ordered(summaries)
    glue = [t for t in tasks if t in GLUE_TASKS]
    columns = [_title(t) for t in glue] + (["GLUE avg"] if glue else [])
    columns += [_title(t) for t in tasks if t not in GLUE_TASKS]
    cells = [_cell(summaries[t]) for t in glue] + ([f"{glue_average(summaries):.1f}"] if glue else [])
    cells += [_cell(summaries[t]) for t in tasks if t not in GLUE_TASKS]
    lines = ["| model | " + " | ".join(columns) + " |", "| --- " * (len(columns) + 1) + "|",
             f"| {preset} | " + " | ".join(cells) + " |", ""]
    lines.append("Dev sets; each cell the median over seeds at the learning rate picked on dev:")
    lines += [f"- {t}: learning rate {summaries[t]['learning_rate']:g}, {summaries[t]['seeds']} seeds; median score "
              f"by rate: " + ", ".join(f"{r}: {s:.1f}" for r, s in
                                        summaries[t]["median_score_by_learning_rate"].items()) for t in tasks]
    if glue:
        lines.append("GLUE avg: the mean over the GLUE tasks above of each task's score (the mean of its "
                     "metrics; MNLI's over matched and mismatched), as GLUE's leaderboard scores.")
    return "\n".join(lines) + "\n"
