"""The evaluation suite: GLUE and SQuAD tasks x learning rates x seeds from
one pretrained BERT, reported as the paper reports them.

    python -m official_tokendrop.evaluate --preset=runs/demo/export \
        --glue_dir=glue_data --squad_dir=squad --tasks=rte,mrpc,stsb,squad1.1 \
        --learning_rates=2e-5,3e-5,5e-5 --seeds=0,1,2 --output_dir=runs/demo/eval

`--glue_dir` holds GLUE's task directories as GLUE distributes them
(`CoLA`, `SST-2`, `MRPC`, `STS-B`, `QQP`, `MNLI`, `QNLI`, `RTE`, `WNLI`), or
is a TFDS data directory with prepared `glue/<task>`; `--squad_dir` holds
SQuAD's official files (`train-v1.1.json`, `dev-v1.1.json`,
`train-v2.0.json`, `dev-v2.0.json`). Every run is one `finetune.run_task`
(which seeds it) into `output_dir/runs/<task>/lr_<rate>/seed_<seed>/`, its
`results.json` written whole once it has finished, so a rerun skips
finished runs. Then `results.json` and `results.md` (`finetuning.suite`):
each task's learning rate picked on dev, the medians over seeds, the GLUE
average. Progress lines (with an ETA) go to stderr.
"""

import contextlib
import json
import os
import sys

from official_tokendrop import cli  # noqa: E402,F401  (quiets TensorFlow before it loads)

from absl import app, flags  # noqa: E402

from official_tokendrop import finetune  # noqa: E402
from official_tokendrop.cli import one_line_errors  # noqa: E402
from official_tokendrop.errors import ConfigurationError, MissingFileError  # noqa: E402
from official_tokendrop.finetuning import suite  # noqa: E402
from official_tokendrop.finetuning.glue_data import TASKS as GLUE_TASKS, check_directory, task_directory  # noqa: E402
from official_tokendrop.finetuning.pretrained import load_pretrained  # noqa: E402
from official_tokendrop.utils.outputs import whole  # noqa: E402
from official_tokendrop.utils.progress import Eta  # noqa: E402

SETTINGS = "suite.json"
RESULTS = "results.json"


def task_inputs(task, glue_dir, squad_dir):
    """The data arguments of `run_task` for `task`; checked before any run."""
    finetune.check_task_name(task)
    if task in GLUE_TASKS:
        if not glue_dir:
            raise ConfigurationError(f"--tasks has {task}: it needs --glue_dir.")
        data_dir = task_directory(glue_dir, task)
        check_directory(task, data_dir)
        return {"data_dir": data_dir}
    if not squad_dir:
        raise ConfigurationError(f"--tasks has {task}: it needs --squad_dir.")
    version = finetune.SQUAD_TASKS[task]
    files = {"train_file": os.path.join(squad_dir, f"train-v{version}.json"),
             "predict_file": os.path.join(squad_dir, f"dev-v{version}.json")}
    for path in files.values():
        if not os.path.isfile(path):
            raise MissingFileError(f"{task}: {path} does not exist (--squad_dir holds SQuAD's official files).")
    return files


def check_settings(output_dir, settings):
    """Records the suite's settings in `output_dir`, or refuses a rerun
    into it with others (its finished runs would not be comparable)."""
    path = os.path.join(output_dir, SETTINGS)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            recorded = json.load(f)
        differ = [f"{k}={settings[k]!r} (was {recorded.get(k)!r})" for k in settings if settings[k] != recorded.get(k)]
        if differ:
            raise ConfigurationError(f"--output_dir {output_dir} holds runs with other settings: {'; '.join(differ)}; "
                                     "use another --output_dir.")
        return
    os.makedirs(output_dir, exist_ok=True)
    finetune.write_json(path, settings, "suite settings")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def evaluate(preset, tasks, learning_rates, seeds, output_dir, *, glue_dir=None, squad_dir=None, epochs=3,
             batch_size=32, sequence_length=None, verbose=2):
    """Runs what is not finished yet and returns the suite's results (also
    written to `output_dir/results.json` and `results.md`)."""
    inputs = {task: task_inputs(task, glue_dir, squad_dir) for task in tasks}
    settings = {"preset": os.path.abspath(preset), "epochs": epochs, "batch_size": batch_size,
                "sequence_length": sequence_length}
    check_settings(output_dir, settings)
    plan = [(task, rate, seed) for task in tasks for rate in learning_rates for seed in seeds]
    todo = [run for run in plan if not os.path.exists(os.path.join(suite.run_directory(output_dir, *run), RESULTS))]
    print(f"evaluate: {len(plan)} runs, {len(plan) - len(todo)} finished before", file=sys.stderr)
    pretrained = load_pretrained(preset) if todo else None
    eta = Eta(len(todo))
    eta.update(0)
    for done, (task, rate, seed) in enumerate(todo, start=1):
        directory = suite.run_directory(output_dir, task, rate, seed)
        results = finetune.run_task(pretrained, task, directory, learning_rate=rate, epochs=epochs,
                                    batch_size=batch_size, seed=seed, sequence_length=sequence_length,
                                    verbose=verbose, **inputs[task])
        finetune.write_json(os.path.join(directory, RESULTS), results)
        eta.update(done)
        score = suite.task_score(suite.dev_metrics(task, results))
        print(f"evaluate: run {done}/{len(todo)} {task} lr={rate:g} seed={seed}: score {score:.1f} | "
              f"{eta.describe()}", file=sys.stderr)
    summaries = {}
    for task in tasks:
        runs = {rate: [_read(os.path.join(suite.run_directory(output_dir, task, rate, seed), RESULTS))
                       for seed in seeds] for rate in learning_rates}
        summaries[task] = suite.summarize(task, runs)
    report = {**settings, "learning_rates": list(learning_rates), "seeds": list(seeds),
              "tasks": summaries, "glue_average": suite.glue_average(summaries)}
    finetune.write_json(os.path.join(output_dir, RESULTS), report)
    with whole("results table", os.path.join(output_dir, "results.md")) as temporary:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(suite.markdown(preset, summaries))
    return report


FLAGS = flags.FLAGS


def _default_tasks(values):
    tasks = list(GLUE_TASKS) if values.glue_dir else []
    return tasks + (list(finetune.SQUAD_TASKS) if values.squad_dir else [])


@one_line_errors("evaluate")
def main(argv):
    del argv
    tasks = FLAGS.tasks or _default_tasks(FLAGS)
    if not tasks:
        raise ConfigurationError("Nothing to run: give --glue_dir and/or --squad_dir (and --tasks).")
    try:
        rates, seeds = [float(r) for r in FLAGS.learning_rates], [int(s) for s in FLAGS.seeds]
    except ValueError as error:
        raise ConfigurationError(f"--learning_rates are numbers and --seeds integers ({error}).") from None
    for task in tasks:
        finetune.check_task_name(task)
    # Keras' progress lines go to stderr with ours: stdout is the table.
    with contextlib.redirect_stdout(sys.stderr):
        evaluate(FLAGS.preset, suite.ordered(dict.fromkeys(tasks)), rates, seeds, FLAGS.output_dir,
                 glue_dir=FLAGS.glue_dir, squad_dir=FLAGS.squad_dir, epochs=FLAGS.epochs,
                 batch_size=FLAGS.batch_size, sequence_length=FLAGS.sequence_length)
    with open(os.path.join(FLAGS.output_dir, "results.md"), encoding="utf-8") as f:
        print(f.read())


def define_flags(flag_values=flags.FLAGS):
    """The program's flags, on `flag_values` (tests pass their own)."""
    values = dict(flag_values=flag_values)
    flags.DEFINE_string("preset", None, "Any BERT finetune reads (keras-hub preset, transformers directory, ...).",
                        **values)
    flags.DEFINE_string("glue_dir", None, "GLUE's task directories (CoLA, SST-2, ...) or a TFDS data directory.",
                        **values)
    flags.DEFINE_string("squad_dir", None, "SQuAD's train-v1.1.json, dev-v1.1.json, train-v2.0.json, dev-v2.0.json.",
                        **values)
    flags.DEFINE_list("tasks", None, "Tasks (default: every GLUE task with --glue_dir, both SQuADs with "
                      "--squad_dir).", **values)
    flags.DEFINE_list("learning_rates", ["2e-5", "3e-5", "4e-5", "5e-5"], "Learning rates tried per task.", **values)
    flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Seeds per learning rate (the median is reported).",
                      **values)
    flags.DEFINE_integer("epochs", 3, "Epochs per run.", **values)
    flags.DEFINE_integer("batch_size", 32, "Batch size.", **values)
    flags.DEFINE_integer("sequence_length", None, "Tokens per example (default: GLUE 128, SQuAD 384).", **values)
    flags.DEFINE_string("output_dir", None, "Runs, results.json and results.md.", **values)
    flags.mark_flags_as_required(["preset", "output_dir"], flag_values=flag_values)


if __name__ == "__main__":
    define_flags()
    app.run(lambda argv: sys.exit(main(argv)))
