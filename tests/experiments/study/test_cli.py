"""The study's bad input: one line on stderr, status 2, nothing written."""

import json

import pytest

from experiments.study import cli


def bad_tasks(directory):
    directory.mkdir()
    for split in ("train", "dev", "test"):
        (directory / f"wn_supersense.{split}.tsv").write_text("noun.Tops\tan entity\n")
    (directory / "wn_supersense.dev.tsv").write_text("noun.Tops\tan entity\nonly-a-label\n")
    return directory


def without_vocabulary(directory):
    """A transformers BERT directory whose weights are never read: config.json and no vocabulary."""
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({
        "model_type": "bert", "vocab_size": 8, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1,
        "intermediate_size": 4, "max_position_embeddings": 8}))
    (directory / "model.safetensors").write_bytes(b"")
    return directory


@pytest.mark.parametrize("flags, message", [
    (["--runs=baseline,tokendrop"], "--runs: unknown run 'tokendrop'"),
    (["--runs=small_dense,baseline"], "small_dense is sized by token_drop's cost; add token_drop"),
    (["--tasks=", "--corpus_dir={empty}"], "--corpus_dir {empty} holds no .txt files"),
    (["--tasks=", "--corpus_dir={tmp}/nowhere"], "--corpus_dir {tmp}/nowhere is not a directory"),
    (["--tasks=wn_supersense", "--tasks_dir={tasks}"], "{tasks}/wn_supersense.dev.tsv:2: "),
    (["--tasks=wn_parse"], "--tasks: unknown task 'wn_parse'; choose from wn_supersense, wn_gloss_match"),
    (["--steps=0"], "--steps must be at least 1; got 0"),
    (["--pretrain_seeds=0"], "--pretrain_seeds must be at least 1; got 0"),
    (["--continue_steps=0"], "--continue_steps must be at least 1; got 0"),
    (["--tasks=domain_neighbours"], "--tasks: domain_neighbours is built from --domain_file's held-out lines; it "
                                    "needs a run on that file (continued_* or released_*)"),
    (["--tasks=", "--runs=released,released_random"], "--runs: released needs --init_checkpoint, the released model"),
    (["--tasks=", "--init_checkpoint={tmp}"], "--init_checkpoint is read by the released_* runs only"),
    (["--tasks=", "--runs=released", "--init_checkpoint={tmp}/nowhere"], "{tmp}/nowhere"),
    (["--tasks=", "--runs=released", "--init_checkpoint={novocab}"],
     "--init_checkpoint {novocab} ships no vocabulary; the released arms use the model's own"),
])
def test_bad_input_is_one_line(tmp_path, capsys, flags, message):
    (tmp_path / "empty").mkdir()
    where = {"empty": tmp_path / "empty", "tasks": bad_tasks(tmp_path / "tasks"), "tmp": tmp_path,
             "novocab": without_vocabulary(tmp_path / "novocab")}
    work, results = tmp_path / "work", tmp_path / "results"
    code = cli.main([f"--work_dir={work}", f"--results_dir={results}", *(f.format(**where) for f in flags)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("token_drop_study: error: ") and message.format(**where) in lines[0], lines
    assert not work.exists() and not results.exists()


def test_a_domain_file_outside_the_corpus_is_refused(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a.txt", "b.txt"):
        (corpus / name).write_text("one line\n")
    code = cli.main([f"--work_dir={tmp_path / 'work'}", "--tasks=", "--runs=general,continued_dense",
                     f"--corpus_dir={corpus}", "--domain_file=sqlite_docs.txt"])
    assert code == 2 and capsys.readouterr().err == (
        f"token_drop_study: error: --domain_file sqlite_docs.txt is not a .txt file of --corpus_dir {corpus}.\n")
