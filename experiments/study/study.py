"""The study: its stages in order (data, benchmark, pretraining,
fine-tuning), results.json and the report after each."""

import dataclasses
import os
import time

from official_tokendrop.interop.init_checkpoint import read_source

from . import report, results
from .arms import ARMS, Scale
from .benchmark import benchmark
from .configs import Configs
from .corpora import Corpora
from .costs import step_budget
from .finetuning import FineTuning, task_sources
from .pretraining import Pretraining
from .stages import Stages

# The row in results.json of an arm not pretrained here: nothing trained, nothing spent.
UNTRAINED = {"steps": 0, "step_seconds": 0.0, "train_seconds": 0.0, "wall_seconds": 0.0, "flops": 0,
             "final_heldout_loss": None, "seconds_to_baseline_loss": None, "flops_to_baseline_loss": None,
             "keep_k": None}


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a study runs, checked (`cli.settings`).

    Args:
        name: str, its results directory under `results_dir`.
        command: str, the command line that started it.
        scale: `arms.Scale`.
        runs: list of str, its arms in running order.
        tasks: list of str, its fine-tuning tasks.
        init_checkpoint: str, the released model of the released arms, or None.
        seed: int, the experiment seed (init, data order, dropout).
        evaluations: int, held-out evaluations per run.
        pretrain_seeds: int, seeds of the seeded arms.
        finetune_seeds: int, fine-tunes per pretrained model.
        control_seeds: int, seeds of no_pretraining.
        corpus_lines: int, lines read per corpus file (0: all).
        domain_file: str, the corpus file of the continuations.
        tasks_dir: str, the tasks' files.
        work_dir: str, model dirs and data.
        results_dir: str, the parent of the results directory.
    """

    name: str
    command: str
    scale: Scale
    runs: list
    tasks: list
    init_checkpoint: str
    seed: int
    evaluations: int
    pretrain_seeds: int
    finetune_seeds: int
    control_seeds: int
    corpus_lines: int
    domain_file: str
    tasks_dir: str
    work_dir: str
    results_dir: str

    @property
    def out(self):
        """The results directory."""
        return os.path.join(self.results_dir, self.name)

    @property
    def seeds(self):
        """The pretraining seeds, the experiment seed first (one unless a
        seeded arm runs)."""
        extra = self.pretrain_seeds if any(ARMS[r].seeded for r in self.runs) else 1
        return [self.seed + k for k in range(extra)]


def run_study(settings, files):
    """Runs the study of `settings` on the corpus `files`; writes its
    results directory."""
    stages = Stages(settings.work_dir)
    os.makedirs(settings.out, exist_ok=True)
    scale, runs = settings.scale, settings.runs
    making = Corpora(stages, scale, settings.seed, settings.corpus_lines)
    released = settings.init_checkpoint
    corpora = making.prepare(runs, files, settings.domain_file, released and read_source(released).vocabulary)
    configs = Configs(scale, corpora, settings.work_dir, settings.seed, settings.evaluations, released)
    if released:
        configs.check_released(runs)
    tasks = task_sources(settings.tasks, settings.tasks_dir, corpora, settings.work_dir)  # refused now, not later
    summaries = {name: c.summary(making.unigram(c)) for name, c in corpora.items()}
    # One file per study name: two studies sharing a work dir time
    # different arms, and a report re-rendered later must reuse the
    # seconds its arms were sized by, not the other study's retake.
    bench = benchmark(configs, runs, os.path.join(settings.work_dir, f"step_seconds.{settings.name}.json"),
                      stages.log) if any(ARMS[r].pretrains for r in runs) else {"step_seconds": {}}
    trained = Pretraining(stages, configs, settings.seeds)(runs, *step_budget(scale, bench), bench)
    for name in (r for r in runs if not ARMS[r].pretrains):
        trained[name] = {**UNTRAINED, "layers": scale.layers}

    def write(finetune):
        summary = results.summary(settings, summaries, configs.dense_layers, trained, finetune, bench,
                                  time.time() - stages.start)
        results.write(settings.out, summary, stages.commands(), stages.work)
        print(report.render(settings.out))

    FineTuning(stages, configs, tasks, settings.finetune_seeds, settings.control_seeds)(runs, settings.seeds, write)
    if not settings.tasks:
        write({})
