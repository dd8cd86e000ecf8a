"""The study end to end on the tiny scale: every stage kind once (data,
benchmark, pretraining, a continuation, fine-tuning, results and report),
then a rerun that reuses all of it. The general model and its dense
continuation are two runs, the dense continuation of a released model (a
tiny transformers directory as all-MiniLM-L6-v2 ships) the third; the
fine-tuned models are the randomly initialised control, the release as it
ships and its continuation (exported); each arm's sizes and goal lines are
the pure tests'."""

import json
import math
import os

import numpy as np
import pytest

from experiments.study import cli, report
from experiments.study.arms import SCALES
from official_tokendrop.core.pretrainers import read_params
from official_tokendrop.data.vocabulary import load_vocabulary
from official_tokendrop.models.flops import step_flops
from study_files import TOKENS, tiny_release

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "data")
RUNS = ("no_pretraining", "general", "continued_dense", "released", "released_dense")


def slices(tmp_path, lines=200, rows=60):
    """The first `lines` lines of each shared corpus file, `rows` rows of each split of one task."""
    corpus, tasks = tmp_path / "corpus", tmp_path / "tasks"
    corpus.mkdir()
    tasks.mkdir()
    for name in sorted(os.listdir(os.path.join(SHARED, "corpus"))):
        with open(os.path.join(SHARED, "corpus", name), encoding="utf-8") as f:
            (corpus / name).write_text("".join(f.readline() for _ in range(lines)), encoding="utf-8")
    for split in ("train", "dev", "test"):
        with open(os.path.join(SHARED, "tasks", f"wn_supersense.{split}.tsv"), encoding="utf-8") as f:
            all_rows = f.readlines()
        (tasks / f"wn_supersense.{split}.tsv").write_text("".join(all_rows[::len(all_rows) // rows][:rows]))
    return corpus, tasks


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(SHARED), reason="needs ../shared/data")
def test_tiny_study_runs_every_stage_and_reuses_finished_work(tmp_path):
    corpus, tasks = slices(tmp_path)
    work, out = tmp_path / "work", tmp_path / "results" / "smoke"
    release = tiny_release(tmp_path / "release", SCALES["tiny"])
    flags = ["--name=smoke", "--scale=tiny", f"--corpus_dir={corpus}", f"--tasks_dir={tasks}", f"--work_dir={work}",
             f"--results_dir={tmp_path / 'results'}", "--tasks=wn_supersense", "--runs=" + ",".join(RUNS),
             "--pretrain_seeds=1", "--finetune_seeds=1", "--control_seeds=1", "--evaluations=2",
             f"--init_checkpoint={release}"]
    assert cli.main(flags) == 0
    assert sorted(os.listdir(out)) == ["commands.txt", "domain_heldout_loss_vs_flops.png",
                                       "domain_heldout_loss_vs_step_seconds.png", "released_heldout_loss_vs_flops.png",
                                       "released_heldout_loss_vs_step_seconds.png", "results.json", "results.md"]
    commands = (work / "commands.log").read_text()
    assert [commands.count(f"official_tokendrop.{p}") for p in ("train", "export", "finetune")] == [3, 1, 3]
    assert f"official_tokendrop.finetune --preset={release} " in commands  # the release as it ships
    assert "# " + str(work / "no_pretraining" / "export_seed0") in commands  # the control's preset, built here
    assert commands in (out / "commands.txt").read_text()

    results, s = json.loads((out / "results.json").read_text()), SCALES["tiny"]
    runs, seconds, corpora = results["runs"], results["benchmark"]["step_seconds"], results["corpora"]
    assert list(runs) == ["general", "continued_dense", "released_dense", "no_pretraining", "released"]
    assert results["tasks"] == ["wn_supersense"] and results["init_checkpoint"] == release
    for arm, corpus_name, steps in (("general", "general", 20), ("continued_dense", "domain", 6),
                                    ("released_dense", "released", 6)):
        run, vocab = runs[arm], corpora[corpus_name]["vocab_size"]
        assert vocab == len(load_vocabulary(corpora[corpus_name]["vocab"])) and run["steps"] == steps
        per_step = step_flops(s.hidden, s.layers, s.inner, s.seq, vocab, s.predictions, s.batch).training_step
        assert run["flops"] == steps * per_step and run["train_seconds"] == steps * run["step_seconds"]
        assert [c[0] for c in run["curve"]] == [steps // 2, steps]
        # The plotted costs end where the run's totals do.
        assert (run["curve_seconds"][-1], run["curve_flops"][-1]) == (run["train_seconds"], run["flops"])
        assert np.isfinite(run["final_heldout_loss"])
    for corpus_name, corpus in corpora.items():
        assert 0 < corpus["unigram_heldout_loss"] < math.log(corpus["vocab_size"]) + 1
    # general: the corpus without the domain file, a vocabulary of its own,
    # which the domain's TFRecords use; the continuation starts from its
    # model_dir through task.init_checkpoint; one benchmark times both.
    assert corpora["general"]["files"] == [f for f in corpora["corpus"]["files"] if f != "sqlite_docs.txt"]
    assert corpora["domain"]["files"] == ["sqlite_docs.txt"] and corpora["domain"]["heldout_every"] == 10
    assert corpora["domain"]["vocab"] == corpora["general"]["vocab"] != corpora["corpus"]["vocab"]
    assert read_params(str(work / "continued_dense")).task.init_checkpoint == str(work / "general")
    # The released model's continuation: its vocabulary, no vocabulary learned, its encoder, a fresh MLM head.
    assert corpora["released"]["vocab"] == f"{release}/tokenizer.json" and corpora["released"]["vocab_size"] == len(
        TOKENS) and not (work / "released_data" / "vocab.txt").exists()
    assert read_params(str(work / "released_dense")).task.init_checkpoint == release
    assert "fresh: masked-LM head (the source has none)" in (work / "released_dense.log").read_text()
    assert (work / "released_data" / "heldout.txt").read_text() == (work / "domain_data" / "heldout.txt").read_text()
    assert runs["general"]["step_seconds"] == runs["continued_dense"]["step_seconds"] == seconds["continued_dense"]
    assert "reference" not in runs["general"] and runs["continued_dense"]["reference"] == "continued_dense"
    assert runs["continued_dense"]["seconds_to_baseline_loss"] <= runs["continued_dense"]["train_seconds"]
    for arm in ("no_pretraining", "released", "released_dense"):
        finetuned = results["finetune"][arm]["wn_supersense"]
        assert finetuned["by_pretraining_seed"].keys() == {"0"} and len(finetuned["seeds"]) == 1
        assert finetuned["learning_rate"] == SCALES["tiny"].finetune_learning_rates[0]
    assert (work / "no_pretraining" / "export_seed0" / "config.json").exists()
    markdown = (out / "results.md").read_text()
    assert "## Continued pretraining on sqlite_docs.txt" in markdown and "| continued_dense | 6 |" in markdown
    assert f"## The released model {release}, continued on sqlite_docs.txt" in markdown
    assert "| released_dense | 6 |" in markdown

    # The rerun reuses every stage, and the report re-renders from results.json alone.
    assert cli.main(flags) == 0
    assert (work / "commands.log").read_text() == commands
    rerun = json.loads((out / "results.json").read_text())
    assert rerun["runs"] == runs and rerun["benchmark"] == results["benchmark"]
    rendered = (out / "results.md").read_text()
    assert report.main([str(out)]) == 0 and (out / "results.md").read_text() == rendered
