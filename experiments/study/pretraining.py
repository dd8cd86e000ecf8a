"""The study's pretraining runs (the trainer program, one model_dir each),
their held-out curves and what each cost."""

import json
import os

import tensorflow as tf

from .arms import ARMS
from .costs import ArmCost, reach_baseline
from .stages import StudyError


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


class Pretraining:
    """Pretrains the arms of a study.

    Args:
        stages: `stages.Stages`, the work dir and its logs.
        configs: `configs.Configs`, the arms' experiment configs.
        seeds: list of int, the pretraining seeds, the experiment seed first.
    """

    def __init__(self, stages, configs, seeds):
        self.stages, self.configs, self.seeds = stages, configs, seeds

    def pretrain(self, name, steps, seed):
        """Arm `name` trained for `steps` with `seed` (reused when its
        model_dir holds an evaluation at `steps`): its steps, seed, curve,
        final held-out loss and wall-clock seconds."""
        label, model_dir = self.configs.run_name(name, seed), self.configs.model_dir(name, seed)
        results_file = os.path.join(model_dir, "eval_results.json")
        wall_file = os.path.join(model_dir, "wall_seconds.json")
        done = os.path.exists(results_file) and _read_json(results_file)["step"] >= steps
        if not done:
            experiment, override = self.configs.override(name, steps, seed)
            self.stages.log(f"pretraining {label}: {steps} steps ({experiment}, seed {seed})")
            wall = self.stages.run(self.stages.program(
                "official_tokendrop.train", f"--experiment={experiment}", f"--params_override={json.dumps(override)}",
                "--mode=train_and_eval", f"--model_dir={model_dir}"), f"{label}.log")
            previous = _read_json(wall_file) if os.path.exists(wall_file) else 0.0
            with open(wall_file, "w") as f:
                json.dump(previous + wall, f)
        curve = eval_curve(model_dir)
        self.stages.log(f"{label}: held-out MLM loss {curve[-1][1]:.4f} at step {curve[-1][0]}")
        return {"steps": steps, "seed": seed, "curve": curve, "final_heldout_loss": curve[-1][1],
                "wall_seconds": _read_json(wall_file)}

    def cost(self, name, mode_seconds, bench):
        """Arm `name`'s `ArmCost` at the seconds per step `mode_seconds`."""
        s, arm = self.configs.scale, ARMS[name]
        return ArmCost(self.configs.encoder(name), mode_seconds, s.seq, s.predictions, s.batch,
                       arm.table_warmup_steps(s), bench.get("warmup_seconds", {}).get(name, 0.0))

    def __call__(self, runs, steps, mode_seconds, bench):
        """Pretrains every trained arm of `runs` for its `steps`, then the
        further seeds of the seeded ones; returns their results (costs,
        curve costs and the comparison with each arm's reference)."""
        results, costs, scale = {}, {}, self.configs.scale
        trained = [name for name in runs if ARMS[name].pretrains]
        for name in trained:
            run = self.pretrain(name, steps[name], self.seeds[0])
            cost = costs[name] = self.cost(name, mode_seconds[name], bench)
            run.update(cost.totals(steps[name]), layers=cost.encoder.num_layers, keep_k=cost.encoder.token_keep_k)
            if ARMS[name].variant:
                run["variant"] = ARMS[name].encoder_keys(scale)
            results[name] = run
        # Further seeds of the seeded arms, after every arm's first seed so
        # that a short budget still completes one comparison.
        for seed in self.seeds[1:]:
            for name in (n for n in trained if ARMS[n].seeded):
                results[name].setdefault("other_seeds", {})[str(seed)] = self.pretrain(name, steps[name], seed)
        for name, run in results.items():
            for one in [run, *run.get("other_seeds", {}).values()]:
                one.update(costs[name].curve(one["curve"]))
            reference = ARMS[name].reference
            if reference not in results:
                continue
            run["reference"] = reference
            reach_baseline(run, results[reference], costs[name], costs[reference])
            for seed, one in run.get("other_seeds", {}).items():
                reach_baseline(one, results[reference]["other_seeds"][seed], costs[name], costs[reference])
        return results


def _read_json(path):
    with open(path) as f:
        return json.load(f)
