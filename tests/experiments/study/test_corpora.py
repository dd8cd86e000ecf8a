"""The study's corpora: the held-out split read as the converter reads a
corpus, and the unigram predictor's loss by hand."""

import math

import numpy as np
import pytest

from experiments.study.arms import SCALES
from experiments.study.corpora import Corpora, unigram_cross_entropy
from experiments.study.stages import Stages
from official_tokendrop.errors import DataError


def test_unigram_cross_entropy_by_hand():
    # Training labels 1, 1, 2 (a weight-0 slot of id 3 counts nothing), vocab 4:
    # add-one smoothing gives p(1) = 3/7, p(2) = 2/7, p(3) = 1/7.
    train_ids, train_weights = np.array([[1, 1, 2, 3]]), np.array([[1.0, 1.0, 1.0, 0.0]])
    eval_ids, eval_weights = np.array([[1, 2, 3, 0]]), np.array([[1.0, 1.0, 1.0, 0.0]])
    expected = -(math.log(3 / 7) + math.log(2 / 7) + math.log(1 / 7)) / 3
    assert abs(unigram_cross_entropy(train_ids, train_weights, eval_ids, eval_weights, 4) - expected) < 1e-12


def test_the_split_holds_out_every_nth_line_and_skips_undecodable_ones(tmp_path, capsys):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes("a0\na1  \na2\na3\na4\n".encode())
    b.write_bytes(b"b0\nb1 caf\xe9\nb2\nb3\n")  # a latin-1 line: skipped and named, never guessed at
    out = tmp_path / "split"
    out.mkdir()
    corpora = Corpora(Stages(str(tmp_path / "work")), SCALES["tiny"], seed=0, corpus_lines=4)
    text = corpora.split(str(out), [str(a), str(b)], heldout_every=2)
    # The first 4 decodable lines of each file, lines 0 and 2 held out, a
    # document break after each file.
    assert (out / "heldout.txt").read_text() == "a0\na2\n\nb0\nb3\n\n"
    assert (out / "train.txt").read_text() == "a1\na3\n\nb2\n\n"
    assert text == {"train": str(out / "train.txt"), "heldout": str(out / "heldout.txt")}
    assert capsys.readouterr().out.strip().endswith("skipped 1 undecodable line(s): b.txt:2")


def test_a_binary_corpus_file_is_refused_by_name(tmp_path):
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\x01binary\x00" * 100)
    corpora = Corpora(Stages(str(tmp_path / "work")), SCALES["tiny"], seed=0)
    with pytest.raises(DataError, match="model.bin"):
        corpora.split(str(tmp_path), [str(binary)], heldout_every=2)
