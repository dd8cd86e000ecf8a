"""The study's flags, their checks, and `main`.

    .venv/bin/python experiments/token_drop_study.py --name=study_6x128
"""

import argparse
import dataclasses
import os
import sys

from official_tokendrop.data.task_rows import read_task_file
from official_tokendrop.errors import TokenDropError
from official_tokendrop.interop.init_checkpoint import read_source

from .arms import ARMS, DEFAULT_RUNS, SCALES, describe
from .finetuning import BUILT, DEFAULT_TASKS, TASKS, task_files
from .stages import StudyError
from .study import Settings, run_study

PROGRAM = "experiments/token_drop_study.py"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_runs(text):
    """The arms named in `text` (comma-separated) in running order; each
    arm's sizing arm, reference and general model must run too."""
    runs = [r for r in text.split(",") if r]
    unknown = [r for r in runs if r not in ARMS]
    if unknown:
        raise StudyError(f"--runs: unknown run {unknown[0]!r}; choose from {', '.join(ARMS)}.")
    for name, arm in ARMS.items():
        if name in runs and arm.sized_by and arm.sized_by not in runs:
            raise StudyError(f"--runs: {name} is sized by {arm.sized_by}'s cost; add {arm.sized_by}.")
    for run in runs:
        arm = ARMS[run]
        if arm.reference and arm.reference not in runs:
            raise StudyError(f"--runs: the comparisons need {arm.reference}; add it.")
        if arm.corpus == "domain" and "general" not in runs:
            raise StudyError(f"--runs: {run} continues general; add general.")
    # general runs for its continuations, and is timed as the first of them.
    if "general" in runs and ARMS["general"].timed not in runs:
        timed = ARMS["general"].timed
        raise StudyError(f"--runs: general is timed as {timed}; add {timed}.")
    if not runs:
        raise StudyError("--runs is empty.")
    return [r for r in ARMS if r in runs]


def parse_tasks(text, tasks_dir, runs):
    """The tasks named in `text`, each with its three files read (a bad row
    is refused now, not after the pretraining); a task built from the
    domain file needs a run on that file."""
    tasks = [t for t in text.split(",") if t]
    for task in tasks:
        if task not in TASKS:
            raise StudyError(f"--tasks: unknown task {task!r}; choose from {', '.join(TASKS)}.")
        if task in BUILT:
            if not any(ARMS[r].on_domain for r in runs):
                raise StudyError(f"--tasks: {task} is built from --domain_file's held-out lines; it needs a run "
                                 "on that file (continued_* or released_*).")
            continue
        for path in task_files(tasks_dir, task).values():
            read_task_file(path)
    return tasks


def released_model(path, runs):
    """`--init_checkpoint`, read far enough to know it is a BERT that ships
    its vocabulary (its fit to the scale is checked once the data is
    there): given exactly when a released arm runs."""
    released = [r for r in runs if ARMS[r].corpus == "released"]
    if bool(path) != bool(released):
        raise StudyError(f"--runs: {released[0]} needs --init_checkpoint, the released model." if released else
                         "--init_checkpoint is read by the released_* runs only; add one or drop it.")
    if path and not read_source(path).vocabulary:
        raise StudyError(f"--init_checkpoint {path} ships no vocabulary; the released arms use the model's own.")
    return path or None


def corpus_files(corpus_dir):
    if not os.path.isdir(corpus_dir):
        raise StudyError(f"--corpus_dir {corpus_dir} is not a directory.")
    files = sorted(os.path.join(corpus_dir, f) for f in os.listdir(corpus_dir) if f.endswith(".txt"))
    if not files:
        raise StudyError(f"--corpus_dir {corpus_dir} holds no .txt files.")
    return files


def check_domain_file(name, corpus_dir, files, runs):
    """The domain file of the runs on it is one of the corpus files, and
    not the only one when general (the corpus without it) runs."""
    if not any(ARMS[r].on_domain for r in runs):
        return
    names = [os.path.basename(f) for f in files]
    if name not in names:
        raise StudyError(f"--domain_file {name} is not a .txt file of --corpus_dir {corpus_dir}.")
    if len(names) == 1 and "general" in runs:
        raise StudyError(f"--domain_file {name} is the only file of --corpus_dir {corpus_dir}: "
                         "general would have no corpus.")


def parser():
    seeded = ", ".join(name for name, arm in ARMS.items() if arm.seeded)
    parser = argparse.ArgumentParser(
        description=(sys.modules[__package__].__doc__ or "").splitlines()[0], epilog="arms:\n" + describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="study_6x128", help="results folder under --results_dir")
    parser.add_argument("--runs", default=",".join(DEFAULT_RUNS), help=f"comma-separated, from: {', '.join(ARMS)}")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                        help=f"fine-tuning tasks (empty: none), from: {', '.join(TASKS)}")
    parser.add_argument("--scale", default="study", choices=sorted(SCALES))
    parser.add_argument("--steps", type=int, default=None,
                        help="N (default: the scale's; the continuations run the scale's continue_steps)")
    parser.add_argument("--continue_steps", type=int, default=None,
                        help="steps of each continuation (default: the scale's)")
    parser.add_argument("--seed", type=int, default=0, help="experiment seed: init, data order, dropout")
    parser.add_argument("--evaluations", type=int, default=25, help="held-out evaluations per run")
    parser.add_argument("--pretrain_seeds", type=int, default=2,
                        help=f"seeds of {seeded} (--seed, --seed + 1, ...; the continuations' "
                             "are continuation seeds from the one model they continue)")
    parser.add_argument("--finetune_seeds", type=int, default=2, help="per pretrained model")
    parser.add_argument("--control_seeds", type=int, default=3,
                        help="fine-tunes of each arm not pretrained here (no_pretraining, released, released_random; "
                             "each random one its own initialisation)")
    parser.add_argument("--init_checkpoint", default=None,
                        help="the released model the released_* arms start from (any BERT task.init_checkpoint "
                             "takes, e.g. a transformers directory); its vocabulary is theirs")
    parser.add_argument("--corpus_dir", default=os.path.join(ROOT, "..", "shared", "data", "corpus"))
    parser.add_argument("--corpus_lines", type=int, default=0, help="lines read per corpus file (0: all)")
    parser.add_argument("--domain_file", default="sqlite_docs.txt",
                        help="the corpus file that general leaves out and the continuations train on")
    parser.add_argument("--tasks_dir", default=os.path.join(ROOT, "..", "shared", "data", "tasks"))
    parser.add_argument("--work_dir", default=None, help="model dirs and data (default /tmp/study_<name>)")
    parser.add_argument("--results_dir", default=os.path.join(ROOT, "experiments", "results"))
    return parser


def settings(args, command):
    """The checked `Settings` of the parsed flags `args`."""
    for flag in ("steps", "continue_steps"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise StudyError(f"--{flag} must be at least 1; got {getattr(args, flag)}.")
    for flag in ("evaluations", "pretrain_seeds", "finetune_seeds", "control_seeds"):
        if getattr(args, flag) < 1:
            raise StudyError(f"--{flag} must be at least 1; got {getattr(args, flag)}.")
    runs = parse_runs(args.runs)
    given = {field: getattr(args, field) for field in ("steps", "continue_steps") if getattr(args, field)}
    scale = dataclasses.replace(SCALES[args.scale], **given)
    return Settings(
        name=args.name, command=command, runs=runs, tasks=parse_tasks(args.tasks, args.tasks_dir, runs),
        init_checkpoint=released_model(args.init_checkpoint, runs),
        scale=scale, seed=args.seed,
        evaluations=args.evaluations, pretrain_seeds=args.pretrain_seeds, finetune_seeds=args.finetune_seeds,
        control_seeds=args.control_seeds, corpus_lines=args.corpus_lines, domain_file=args.domain_file,
        tasks_dir=args.tasks_dir, work_dir=args.work_dir or os.path.join("/tmp", f"study_{args.name}"),
        results_dir=args.results_dir)


def main(argv=None, program=PROGRAM):
    """Runs the study of the flags `argv` (default: this process's); returns
    its exit status: 0, or 2 after one line on stderr for a bad input or a
    failed stage."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    command = " ".join([os.path.basename(sys.executable), program, *argv])
    try:
        study = settings(args, command)
        files = corpus_files(args.corpus_dir)
        check_domain_file(args.domain_file, args.corpus_dir, files, study.runs)
        run_study(study, files)
    except TokenDropError as error:
        print(f"token_drop_study: error: {error}", file=sys.stderr)
        return 2
    return 0
