"""The study's goals, one line each, met or missed, with the numbers:
functions of results.json's content alone."""

import json
import statistics

from .arms import ARMS
from .results import seeds_of

GENERAL_TASK = "convention_party"  # general English, outside every corpus: where the released model must show


def verdict(ok):
    return "met" if ok else "missed"


def goal_lines(results):
    """Every goal line of the study whose `results` (results.json's content)
    are given."""
    runs, seed = results["runs"], str(results["seed"])
    by_seed = results["to_baseline_loss_vs_baseline_by_seed"]
    return (reference_goals(results) + variant_goals(results) + control_goals(runs)
            + baseline_cost_goals(runs, seed) + continued_goals(runs, seed, by_seed) + downstream_goals(results))


def reference_goals(results):
    """The baseline against the unigram predictor, token dropping to the
    baseline's loss, the pretraining benefits, and the seeds' mean losses."""
    lines, runs, seed = [], results["runs"], str(results["seed"])
    base = runs.get("baseline")
    if base:
        below = results["unigram_heldout_loss"] - base["final_heldout_loss"]
        lines.append(f"- baseline {below:.3f} nats below the unigram predictor (goal >= 1.0): "
                     f"{verdict(below >= 1.0)}.")
    by_seed = results["to_baseline_loss_vs_baseline_by_seed"].get("token_drop", {})
    for one_seed, _ in seeds_of(runs, "token_drop", seed) if "token_drop" in runs else []:
        r = by_seed.get(one_seed)
        lines.append(f"- token_drop (seed {one_seed}) to the same seed's baseline final loss (goal <= 0.80 of its "
                     "step-seconds and FLOPs): " + ("never reached: missed." if r is None else
                                                    f"{r['seconds']:.3f} and {r['flops']:.3f}: "
                                                    f"{verdict(r['seconds'] <= 0.8)} / "
                                                    f"{verdict(r['flops'] <= 0.8)}."))
    benefit, kept = results["pretraining_benefit"], results["benefit_kept_vs_baseline"]
    for task in results["tasks"]:
        gain = benefit.get("baseline", {}).get(task)
        if gain is None:
            continue
        line = f"- {task}: baseline's pretraining benefit {100 * gain:+.1f} points (goal >= 5 on one task)"
        share = kept.get("token_drop", {}).get(task)
        if share is not None and gain >= 0.05:
            line += f"; token_drop keeps {share:.0%} of it (goal >= 90%): {verdict(share >= 0.9)}"
        lines.append(line + ".")
    if "token_drop" in runs and runs["token_drop"].get("other_seeds"):
        means = {arm: statistics.mean(one["final_heldout_loss"] for _, one in seeds_of(runs, arm, seed))
                 for arm in ("baseline", "token_drop")}
        lines.append(f"- final held-out loss, mean of {len(seeds_of(runs, 'token_drop', seed))} pretraining seeds: "
                     f"baseline {means['baseline']:.3f}, token_drop {means['token_drop']:.3f} "
                     f"({means['token_drop'] - means['baseline']:+.3f} nats).")
    return lines


def variant_goals(results):
    """The variants against the 0.6-of-baseline cost goal, beside plain
    token dropping, and the pretraining benefit each keeps."""
    runs, ratios, kept = results["runs"], results["to_baseline_loss_vs_baseline"], results["benefit_kept_vs_baseline"]
    variants = [name for name, arm in ARMS.items() if arm.variant and name in runs]
    lines = []
    for arm in variants + (["token_drop"] if variants and "token_drop" in runs else []):
        r = ratios.get(arm)
        line = (f"- {arm} ({json.dumps(runs[arm]['variant']) if arm in variants else 'plain'}) "
                f"to the baseline's final loss (goal <= 0.6 of its step-seconds and FLOPs): "
                + ("never reached: missed" if r is None else
                   f"{r['seconds']:.3f} / {r['flops']:.3f}: {'met' if max(r.values()) <= 0.6 else 'missed'}"))
        shares = [f"{task} {kept[arm][task]:.0%}" for task in results["tasks"]
                  if kept.get(arm, {}).get(task) is not None]
        lines.append(line + ("; benefit kept (goal >= 90%): " + ", ".join(shares) if shares else "") + ".")
    if variants:
        lines.append(best_variant(variants, runs, ratios))
    return lines


def best_variant(variants, runs, ratios):
    """The variant that reaches the baseline's final loss cheapest; if none
    does, the one cheapest to its own final loss."""
    reached = {v: ratios[v] for v in variants if v in ratios}
    own = {v: runs[v]["own_loss_vs_baseline"] for v in variants if runs[v].get("own_loss_vs_baseline")}
    best = min(reached, key=lambda v: reached[v]["seconds"]) if reached else None
    closest = min(own, key=lambda v: own[v]["seconds"]) if own else None
    return "- best variant: " + (
        f"{best} at {reached[best]['seconds']:.3f} of the step-seconds." if best else
        "none reaches the baseline's final loss" + (
            "." if closest is None else
            f"; measured to its own final loss instead, the cheapest is {closest}: "
            f"{own[closest]['seconds']:.3f} of the baseline's step-seconds and "
            f"{own[closest]['flops']:.3f} of its FLOPs to that loss."))


def control_goals(runs):
    """Token dropping against the dense arms run for its step-seconds."""
    lines = []
    for control in ("baseline_equal_cost", "small_dense") if "token_drop" in runs else ():
        if control in runs:
            ours, theirs = runs["token_drop"]["final_heldout_loss"], runs[control]["final_heldout_loss"]
            lines.append(f"- at equal step-seconds token_drop ends at {ours:.3f} vs {control} "
                         f"{theirs:.3f}: token_drop {'better' if ours < theirs else 'not better'} "
                         f"by {theirs - ours:+.3f} nats.")
    return lines


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


def continuations():
    """(dense, token dropping, dense cut to token dropping's step-seconds)
    of each kind of continuation: the rows of the equal-cost ones say the
    other two."""
    return [(arm.reference, arm.sized_by, arm.name) for arm in ARMS.values() if arm.continues and arm.sized_by]


def continued_goals(runs, seed, ratios_by_seed):
    """The continuations' goals, per kind (`continuations`): token
    dropping to the dense continuation's final domain held-out loss at <=
    0.80 of its step-seconds and FLOPs, and below the equal-cost dense
    continuation, per seed; then the fresh against the warm table."""
    lines = []
    for dense, drop, equal in continuations():
        if drop in runs and dense in runs:
            lines += continuation_goals(runs, seed, ratios_by_seed.get(drop, {}), (dense, drop, equal))
    if "continued_token_drop_warm" in runs and "continued_token_drop" in runs:
        lines.append(table_warmup_verdict(runs["continued_token_drop"], runs["continued_token_drop_warm"]))
    return lines


def continuation_goals(runs, seed, reached, names):
    """One kind's per-seed lines (`continued_goals`); `reached`: seed -> the
    token-dropping run's shares to the dense run's final loss."""
    dense, drop, equal = names
    lines, equals = [], dict(seeds_of(runs, equal, seed)) if equal in runs else {}
    for one_seed, one in seeds_of(runs, drop, seed):
        r = reached.get(one_seed)
        lines.append(f"- {drop} (seed {one_seed}) to the same seed's {dense} final domain "
                     "held-out loss (goal <= 0.80 of its step-seconds and FLOPs): "
                     + ("never reached: missed." if r is None else
                        f"{r['seconds']:.3f} and {r['flops']:.3f}: {verdict(r['seconds'] <= 0.8)} / "
                        f"{verdict(r['flops'] <= 0.8)}."))
        if one_seed in equals:
            ours, theirs = one["final_heldout_loss"], equals[one_seed]["final_heldout_loss"]
            lines.append(f"- {drop} (seed {one_seed}) ends at {ours:.3f} vs {equal} "
                         f"{theirs:.3f} at equal step-seconds (goal: below it): {verdict(ours < theirs)} by "
                         f"{theirs - ours:+.3f} nats.")
    return lines


def downstream_goals(results):
    """The fine-tuned scores' goals: the released model against random
    weights of its shape (>= 5 points on `GENERAL_TASK`), and per kind of
    continuation and task, token dropping keeping the dense continuation's
    score (within the seed spread, or >= 99%) at <= 0.80 of its
    step-seconds and beating the dense continuation cut to its cost."""
    runs, finetune, lines = results["runs"], results["finetune"], []
    released, random = finetune.get("released", {}), finetune.get("released_random", {})
    for task in (t for t in results["tasks"] if t in released and t in random):
        gain = 100 * (released[task]["mean"] - random[task]["mean"])
        lines.append(f"- {task}: released {released[task]['mean']:.3f} vs released_random {random[task]['mean']:.3f}"
                     f" ({gain:+.1f} points" + (f"; goal >= 5: {verdict(gain >= 5)})." if task == GENERAL_TASK
                                                 else ")."))
    for dense, drop, equal in continuations():
        for task in (t for t in results["tasks"] if t in finetune.get(drop, {}) and t in finetune.get(dense, {})):
            ours, theirs = finetune[drop][task], finetune[dense][task]
            share, spread = ours["mean"] / theirs["mean"], max(ours["std"], theirs["std"])
            seconds = runs[drop]["train_seconds"] / runs[dense]["train_seconds"]
            kept = share >= 0.99 or theirs["mean"] - ours["mean"] <= spread
            lines.append(f"- {task}: {drop} {ours['mean']:.3f} vs {dense} {theirs['mean']:.3f} ({share:.1%}; seed "
                         f"spread {spread:.3f}) at {seconds:.3f} of its step-seconds (goal: within the spread or "
                         f">= 99%, at <= 0.80): {verdict(kept and seconds <= 0.8)}.")
            if task in finetune.get(equal, {}):
                gap = 100 * (ours["mean"] - finetune[equal][task]["mean"])
                lines.append(f"- {task}: {drop} {ours['mean']:.3f} vs {equal} {finetune[equal][task]['mean']:.3f} "
                             f"at equal step-seconds (goal: above it): {verdict(gap > 0)} by {gap:+.1f} points.")
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
