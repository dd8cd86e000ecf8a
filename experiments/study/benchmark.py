"""The study's step-time benchmark: seconds per step of every training mode
of every timed arm, and of every table warm-up, in one interleaved
benchmark before pretraining starts."""

import functools
import json
import os
import statistics
import tempfile

import numpy as np
import tensorflow as tf

from official_tokendrop.core.runner import Runner
from official_tokendrop.utils.timing import interleaved_times

from .arms import ARMS


def mode_label(arm, mode):
    """The benchmark's label of `arm`'s training mode `mode`."""
    return arm if mode == 0 else f"{arm}[mode {mode}]"


def warmup_label(arm):
    """The benchmark's label of `arm`'s table warm-up step."""
    return f"{arm}[table warm-up]"


def held_step(iterations, step, run):
    """`run(steps)` for `interleaved_times`: `steps` calls of `run()` (one
    step on a resident batch, returning its logs), the optimizer's step
    counter `iterations` held at `step` so that each stays in that step's
    training mode; returns once the last step is done."""
    def steps(count):
        for _ in range(count):
            iterations.assign(step)
            logs = run()
        float(logs["loss"])  # waits for the last step

    return steps


def timed_arms(runs):
    """The arms whose models the benchmark times (each model once) and the
    arms whose table warm-up it times."""
    trained = [ARMS[r] for r in runs if ARMS[r].pretrains]
    return list(dict.fromkeys(arm.timed for arm in trained)), [arm.name for arm in trained if arm.warmed]


def contenders(configs, names, warmed, directory, steps):
    """({label: run(steps)}, {arm: its modes' labels}) of the arms `names`
    (each built as a `Runner` in `directory`, on one batch of its training
    data) and the warm-ups of the arms `warmed`."""
    runs, modes, resident = {}, {}, {}  # resident: timed arm -> (its trainable, its batch)
    for name in names:
        params = configs.params(name)
        params.validate()
        runner = Runner(params.task, params.trainer, params.runtime, os.path.join(directory, name),
                        tf.distribute.get_strategy())
        trainer = runner.trainable
        batch = next(iter(runner.task.build_inputs("train")))
        resident[name] = trainer, batch
        encoder = trainer.model.encoder
        # A step of each mode: the first step the run takes in it.
        index = np.asarray(encoder.training_mode_index(np.arange(steps)))
        for mode in range(len(encoder.training_modes)):
            label = mode_label(name, mode)
            modes.setdefault(name, []).append(label)
            runs[label] = held_step(trainer.optimizer.iterations, int(np.argmax(index == mode)),
                                    functools.partial(trainer.train_step, batch))
    for name in warmed:  # its model's warm-up step, on the same batch
        trainer, batch = resident[ARMS[name].timed]
        runs[warmup_label(name)] = held_step(trainer.optimizer.iterations, 0,
                                             functools.partial(trainer.table_warmup_step, batch))
    return runs, modes


def benchmark(configs, runs, path, log):
    """The benchmark of the arms of `runs` (their `configs`), read from
    `path` when it holds every arm (a rerun's), else measured and written
    there: step_seconds (arm -> its first mode's), mode_seconds (arm -> each
    mode's), warmup_seconds (warmed arm -> one warm-up batch's), the rounds
    and the load average before and after."""
    names, warmed = timed_arms(runs)
    if os.path.exists(path):
        with open(path) as f:
            cached = json.load(f)
        if set(names) <= set(cached["step_seconds"]) and set(warmed) <= set(cached.get("warmup_seconds", {})):
            return cached
    scale = configs.scale
    with tempfile.TemporaryDirectory() as directory:
        steps, modes = contenders(configs, names, warmed, directory, scale.steps)
        load = os.getloadavg()[0]
        for run in steps.values():  # compiles every mode
            run(1)
        times = interleaved_times(steps, scale.bench_rounds, scale.bench_steps, lambda line: log(f"benchmark {line}"))
    median = {label: statistics.median(t) for label, t in times.items()}
    mode_seconds = {n: [median[label] for label in labels] for n, labels in modes.items()}
    result = {"step_seconds": {n: v[0] for n, v in mode_seconds.items()}, "mode_seconds": mode_seconds,
              "warmup_seconds": {n: median[warmup_label(n)] for n in warmed},
              "rounds": times, "steps_per_round": scale.bench_steps, "load_before": load,
              "load_after": os.getloadavg()[0]}
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    return result
