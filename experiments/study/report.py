"""The study's report: results.md and the plots of held-out loss against
cost, from a results directory's results.json alone, so any committed
results directory re-renders.

    .venv/bin/python -m experiments.study.report experiments/results/study_6x128 [more directories]
"""

import argparse
import os
import sys

import numpy as np

from .arms import ARMS
from .goals import goal_lines
from .results import read_results, seeds_of

# (corpus, file prefix, what the y axis shows): the arms of the whole
# corpus, and the continuations (of general, of the released model) on the
# domain's held-out set.
PLOTTED = (("corpus", "", "held-out"), ("domain", "domain_", "domain held-out"),
           ("released", "released_", "domain held-out"))
AXES = (("curve_seconds", "step-seconds (each step at its mode's measured s/step, 2-core CPU)",
         "heldout_loss_vs_step_seconds.png"),
        ("curve_flops", "training FLOPs (FLOP model)", "heldout_loss_vs_flops.png"))


def arms_of(results, corpus):
    """The runs' arms evaluated on `corpus` (`arms.Arm.corpus`)."""
    return [arm for arm in results["runs"] if ARMS[arm].corpus == corpus]


def plotted(results):
    """[(corpus, file prefix, what the y axis shows, its arms)] of each plotted
    corpus: the arms of `PLOTTED`'s corpora that have a held-out curve."""
    runs = results["runs"]
    curves = [(corpus, prefix, what, [arm for arm in arms_of(results, corpus) if "curve" in runs[arm]])
              for corpus, prefix, what in PLOTTED]
    return [(corpus, prefix, what, arms) for corpus, prefix, what, arms in curves if arms]


def render(directory):
    """Writes results.md and the plots of `directory`'s results.json; returns
    the markdown."""
    results = read_results(directory)
    plots(results, directory)
    text = markdown(results)
    with open(os.path.join(directory, "results.md"), "w") as f:
        f.write(text)
    return text


def plots(results, directory):
    """Writes the plots of held-out loss against step-seconds and FLOPs
    into `directory`, one per axis and plotted corpus (`plotted`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs, seed = results["runs"], str(results["seed"])
    for corpus, prefix, what, arms in plotted(results):
        for key, label, file in AXES:
            plt.figure(figsize=(7, 4.5))
            for arm in arms:
                color = None
                for one_seed, one in seeds_of(runs, arm, seed):
                    line, = plt.plot(one[key], [point[1] for point in one["curve"]], marker=".", color=color,
                                     linestyle="-" if color is None else ":",
                                     label=f"{arm} ({runs[arm]['steps']} steps, seed {one_seed})")
                    color = line.get_color()
            plt.axhline(results["corpora"][corpus]["unigram_heldout_loss"], color="gray", linestyle="--",
                        label="unigram predictor")
            plt.xlabel(label)
            plt.ylabel(f"{what} MLM loss (full encoder)")
            plt.legend()
            plt.grid(alpha=0.3)
            plt.savefig(os.path.join(directory, prefix + file), dpi=100, bbox_inches="tight")
            plt.close()


def header(results):
    """The report's title, settings and command."""
    s, layers, corpora = results["scale"], results["small_dense_layers"], results["corpora"]
    vocabulary = "; ".join(f"{name} {c['vocab_size']}" for name, c in corpora.items() if name != "domain")
    return [f"# {results['name']}", "",
            f"{s['layers']}-layer, {s['hidden']}-wide BERT ({s['heads']} heads, FFN {s['inner']}), seq {s['seq']}, "
            f"{s['predictions']} predictions, batch {s['batch']}, keep {s['seq'] // 2} for token dropping, "
            f"vocabulary {vocabulary}, dropout {s['dropout']}, lr {s['learning_rate']} (10% of {s['steps']} "
            f"steps warm-up, linear decay), seed {results['seed']}"
            + ("" if layers is None else f"; small_dense has {layers} layers") + ". "
            f"{results['machine']}; {results['date']}; this invocation "
            f"{results['study_wall_seconds'] / 60:.0f} min (finished stages are reused), the pretraining runs "
            f"{results['pretraining_wall_seconds'] / 60:.0f} min of wall-clock in all.",
            "", f"Command: `{results['command']}`", ""]


def corpus_section(results):
    """The table of the arms of the whole corpus."""
    tasks, unigram = results["tasks"], results["unigram_heldout_loss"]
    lines = [f"Unigram predictor's held-out loss: **{unigram:.3f}**", "",
             "| run | steps | s/step | step-seconds | TFLOPs | wall s | held-out loss | below unigram | "
             "step-s to baseline loss | TFLOPs to baseline loss |" + "".join(f" {task} |" for task in tasks),
             "| --- " * (10 + len(tasks)) + "|"]
    lines += table_rows(results, arms_of(results, "corpus"), unigram)
    return lines + ["", "Fine-tuned accuracy per row: mean ± spread (number of fine-tunes) of that pretraining "
                    "seed; the goals pool every pretraining seed of an arm."]


def domain_section(results):
    """The continuations of general on the domain file."""
    s, corpora, general = results["scale"], results["corpora"], results["runs"]["general"]
    domain = corpora["domain"]
    lines = ["", f"## Continued pretraining on {', '.join(domain['files'])}", "",
             f"general: {general['steps']} dense steps on {', '.join(corpora['general']['files'])} "
             f"(vocabulary {corpora['general']['vocab_size']}, learned from them), held-out loss "
             f"{general['final_heldout_loss']:.3f} on their held-out lines (unigram "
             f"{corpora['general']['unigram_heldout_loss']:.3f}). Each continuation starts from it through "
             f"task.init_checkpoint, {s['continue_steps']} steps (lr warm-up {max(1, s['continue_steps'] // 10)}, "
             f"linear decay), evaluated on every {domain['heldout_every']}th line of the domain; the domain's "
             f"unigram predictor: **{domain['unigram_heldout_loss']:.3f}**. The seeds of a continuation are its "
             "data order and masking, from the one general model.", "",
             "| run | steps | s/step | step-seconds | TFLOPs | wall s | domain held-out loss | below "
             "unigram | step-s to continued_dense loss | TFLOPs to continued_dense loss |",
             "| --- " * 10 + "|"]
    return lines + table_rows(results, arms_of(results, "domain"), domain["unigram_heldout_loss"], tasks=())


def released_section(results):
    """The released model, its continuations on the domain file and its
    controls, with their fine-tuned scores."""
    s, corpus, tasks = results["scale"], results["corpora"]["released"], results["tasks"]
    unigram = corpus["unigram_heldout_loss"]
    lines = ["", f"## The released model {results['init_checkpoint']}, continued on {', '.join(corpus['files'])}",
             "", f"Each continuation starts from it through task.init_checkpoint (its encoder; the MLM head, the "
             f"importance table and the optimizer start fresh) with its own vocabulary ({corpus['vocab_size']} "
             f"tokens, {corpus['vocab']}), {s['positions']} positions and hidden_activation "
             f"{s['hidden_activation']}: {s['continue_steps']} steps (lr {s['learning_rate']}, warm-up "
             f"{max(1, s['continue_steps'] // 10)}, linear decay, dropout {s['dropout']}), evaluated on every "
             f"{corpus['heldout_every']}th line of the domain, whose unigram predictor under that vocabulary is at "
             f"**{unigram:.3f}**. The seeds of a continuation are its data order and masking. released is the "
             "model as it ships and released_random random weights of its shape and vocabulary, both fine-tuned "
             "only (one row: every control seed).", "",
             "| run | steps | s/step | step-seconds | TFLOPs | wall s | domain held-out loss | below unigram | "
             "step-s to released_dense loss | TFLOPs to released_dense loss |" + "".join(f" {t} |" for t in tasks),
             "| --- " * (10 + len(tasks)) + "|"]
    return lines + table_rows(results, arms_of(results, "released"), unigram)


def markdown(results):
    """results.md of `results` (results.json's content)."""
    lines = header(results)
    if arms_of(results, "corpus"):
        lines += corpus_section(results)
    if "general" in results["runs"]:
        lines += domain_section(results)
    if arms_of(results, "released"):
        lines += released_section(results)
    lines += ["", "Against the goals:"] + goal_lines(results) + ["", "Details:"] + details(results)
    lines += benchmark_lines(results)
    files = [prefix + file for _, prefix, _, _ in plotted(results) for _, _, file in AXES]
    lines += ["", f"Every number: results.json. Commands: commands.txt. Plots: {', '.join(files) or 'none'}.", ""]
    return "\n".join(lines)


def benchmark_lines(results):
    """How the step-seconds were measured, and which arms they sized."""
    b = results["benchmark"]
    if not b.get("rounds"):
        return []
    sentences = [f"Step-seconds: medians of {len(next(iter(b['rounds'].values())))} interleaved rounds of "
                 f"{b['steps_per_round']} steps on one resident batch (load average {b['load_before']:.2f} before, "
                 f"{b['load_after']:.2f} after), every arm's training modes and table warm-up in them."]
    sentences += [f"{arm} runs for the steps whose step-seconds equal {row.sized_by}'s."
                  for arm, row in ARMS.items() if row.sized_by and arm in results["runs"]]
    return ["", " ".join(sentences)]


def table_rows(results, arms, unigram, tasks=None):
    """A results table's rows: one per arm of `arms` and pretraining seed,
    its loss below `unigram`, and its fine-tuned accuracy on `tasks`
    (default: the study's)."""
    runs, seed, lines = results["runs"], str(results["seed"]), []
    tasks = results["tasks"] if tasks is None else tasks
    for arm in arms:
        run = runs[arm]
        for one_seed, one in seeds_of(runs, arm, seed) if "curve" in run else [(seed, run)]:
            loss = one.get("final_heldout_loss")
            cells = [arm if one is run else f"{arm} seed {one_seed}", str(run["steps"]),
                     f"{run['step_seconds']:.3f}", f"{run['train_seconds']:.0f}",
                     f"{run['flops'] / 1e12:.1f}", f"{one['wall_seconds']:.0f}",
                     "-" if loss is None else f"{loss:.3f}",
                     "-" if loss is None else f"{unigram - loss:.3f}",
                     _fmt(one.get("seconds_to_baseline_loss"), "{:.0f}"),
                     _fmt(one.get("flops_to_baseline_loss"), "{:.1f}", 1e-12)]
            cells += [_accuracy(results["finetune"].get(arm, {}).get(task), arm, one_seed) for task in tasks]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _accuracy(finetuned, arm, seed):
    """A table cell: the fine-tuned accuracy of `arm`'s pretraining seed
    `seed` (an arm not pretrained: every control seed's)."""
    scores = None if finetuned is None else finetuned["by_pretraining_seed"].get(seed)
    if not ARMS[arm].pretrains and finetuned is not None:
        scores = finetuned["seeds"]
    return "-" if not scores else f"{np.mean(scores):.3f} ± {np.std(scores):.3f} ({len(scores)})"


def details(results):
    """The details: each arm against its seed's reference, the pretraining
    benefits and the majority class."""
    runs, seed, tasks = results["runs"], str(results["seed"]), results["tasks"]
    lines, ratios = [], results["to_baseline_loss_vs_baseline_by_seed"]
    for arm in (name for name, row in ARMS.items() if row.compared and name in runs):
        reference = ARMS[arm].reference
        for one_seed, one in seeds_of(runs, arm, seed):
            r = ratios.get(arm, {}).get(one_seed)
            own = one.get("own_loss_vs_baseline")
            lines.append(f"- {arm} (seed {one_seed}) reaches the same seed's {reference} final held-out loss "
                         + ("never within its run" if r is None else
                            f"at {r['seconds']:.3f} of the {reference}'s step-seconds and "
                            f"{r['flops']:.3f} of its FLOPs")
                         + ("." if own is None else
                            f"; the {reference} reaches {arm}'s final loss ({one['final_heldout_loss']:.3f}) at "
                            f"step {one['baseline_steps_to_own_loss']:.0f}, and to that loss {arm} costs "
                            f"{own['seconds']:.3f} of the {reference}'s step-seconds and {own['flops']:.3f} "
                            "of its FLOPs."))
    benefit, kept = results["pretraining_benefit"], results["benefit_kept_vs_baseline"]
    for arm in benefit:
        lines.append(f"- {arm} pretraining benefit over no_pretraining: " + ", ".join(
            f"{task} {100 * benefit[arm][task]:+.1f} points"
            + ("" if kept[arm][task] is None or arm == "baseline" else f" ({kept[arm][task]:.0%} of baseline's)")
            for task in tasks if task in benefit[arm]))  # a partial report lacks later tasks
    lines += rate_lines(results["finetune"], tasks)
    if tasks and results["finetune"]:
        any_arm = next(iter(results["finetune"].values()))
        lines.append("- majority class: " + ", ".join(
            f"{task} {any_arm[task]['majority_baseline']:.3f}" for task in tasks if task in any_arm))
    return lines


def rate_lines(finetune, tasks):
    """The learning rate each arm's scores are at, where a grid was tried:
    the rate with the best mean dev accuracy over the arm's fine-tunes."""
    lines = []
    for arm, by_task in finetune.items():
        picks = [f"{task} {by_task[task]['learning_rate']:g} (dev " + ", ".join(
            f"{rate}: {dev:.3f}" for rate, dev in by_task[task]["dev_by_learning_rate"].items()) + ")"
            for task in tasks if len(by_task.get(task, {}).get("dev_by_learning_rate", {})) > 1]
        if picks:
            lines.append(f"- {arm}'s learning rate, picked on mean dev accuracy: " + "; ".join(picks) + ".")
    return lines


def _fmt(value, pattern, scale=1.0):
    return "-" if value is None else pattern.format(value * scale)


def main(argv=None):
    """Re-renders each results directory named in `argv`; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dirs", nargs="+", help="directories holding a study's results.json")
    args = parser.parse_args(argv)
    for directory in args.results_dirs:
        render(directory)
        print(f"rendered {os.path.join(directory, 'results.md')} and its plots from its results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
