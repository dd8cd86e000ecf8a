"""SQuAD answers from logits (n-best, maximum answer length, spans mapped
back to the context's characters), official EM/F1, v2.0's threshold, and
the prediction files written whole."""

import json
import os
import types

import numpy as np
import pytest
from official.nlp.tools import squad_evaluate_v1_1, squad_evaluate_v2_0

from official_tokendrop.errors import OutputExistsError, OutputWriteError
from official_tokendrop.finetuning import squad_predictions
from official_tokendrop.finetuning.squad_features import WordPieces, squad_windows
from official_tokendrop.finetuning.squad_files import read_squad
from official_tokendrop.finetuning.squad_predictions import (
    answers_at, best_threshold, nbest_answers, score, write_predictions,
)

import squad_samples
from squad_samples import FOX, question, write_squad

LOW = -10.0


def fox_windows(tmp_path, version="1.1"):
    """The FOX paragraph in three windows (see test_squad_features): context
    pieces 0-5, 3-8 and 6-9 at positions 5-10, 5-10 and 5-8."""
    qa = question("fox", "Who jumped?", "quick brown fox", 4)
    squad = read_squad(write_squad(tmp_path / "fox.json", [{"context": FOX, "qas": [qa]}]), version, training=False)
    pieces = WordPieces(squad_samples.tokenizer())
    windows = squad_windows(squad, pieces, sequence_length=12, doc_stride=3, max_query_length=8)
    return squad, windows


def logits(windows, **marks):
    """[windows, 2, 12] logits at LOW except `marks`: name "s<w>_<pos>" or
    "e<w>_<pos>" (start or end, window, position) -> value."""
    array = np.full((len(windows), 2, 12), LOW, np.float32)
    for name, value in marks.items():
        row, position = name[0], name[1:].split("_")
        array[int(position[0]), "se".index(row), int(position[1])] = value
    return array


def test_spans_map_back_to_the_contexts_characters(tmp_path):
    squad, windows = fox_windows(tmp_path)
    # Window 0, positions 5..6: "the quick" -> the context's "The quick".
    texts, _, _ = nbest_answers(squad, windows, logits(windows, s0_5=5, e0_6=5), n_best_size=20,
                                max_answer_length=30, lowercase=True)
    assert texts == {"fox": "The quick"}
    # Window 2, position 7: the piece "dog" of the word "dog." -> "dog".
    texts, _, _ = nbest_answers(squad, windows, logits(windows, s2_7=5, e2_7=5), n_best_size=20,
                                max_answer_length=30, lowercase=True)
    assert texts == {"fox": "dog"}


def test_spans_start_in_their_max_context_window(tmp_path):
    squad, windows = fox_windows(tmp_path)
    # "jumped" at window 1 position 6 is not that piece's max-context
    # window (window 0 is), so the span from it is skipped for the next best.
    texts, nbest, _ = nbest_answers(squad, windows, logits(windows, s1_6=9, e1_6=9, s1_7=4, e1_7=4),
                                    n_best_size=20, max_answer_length=30, lowercase=True)
    assert texts == {"fox": "over"} and nbest["fox"][0]["start_logit"] == 4.0


def test_nbest_and_the_maximum_answer_length(tmp_path):
    squad, windows = fox_windows(tmp_path)
    # Window 0 starts: "the" 5 (position 5), "quick" 4 (6); ends: "over" 5 (10), "fox" 3 (8).
    marks = logits(windows, s0_5=5, s0_6=4, e0_10=5, e0_8=3)
    texts, nbest, null_odds = nbest_answers(squad, windows, marks, n_best_size=3, max_answer_length=6,
                                            lowercase=True)
    assert texts == {"fox": "The quick brown fox jumped over"} and null_odds == {}
    scores = [(e["text"], e["start_logit"] + e["end_logit"]) for e in nbest["fox"]]
    assert scores == [("The quick brown fox jumped over", 10.0), ("quick brown fox jumped over", 9.0),
                      ("The quick brown fox", 8.0)]
    probabilities = np.exp([10.0, 9.0, 8.0]) / np.exp([10.0, 9.0, 8.0]).sum()
    np.testing.assert_allclose([e["probability"] for e in nbest["fox"]], probabilities, rtol=1e-6)
    # At most 3 pieces: the 6-, 5- and 4-piece spans are out.
    texts, nbest, _ = nbest_answers(squad, windows, marks, n_best_size=3, max_answer_length=3, lowercase=True)
    assert texts == {"fox": "quick brown fox"} and nbest["fox"][0]["start_logit"] + nbest["fox"][0]["end_logit"] == 7


def test_null_odds_are_the_lowest_cls_score_minus_the_best_span(tmp_path):
    squad, windows = fox_windows(tmp_path, "2.0")
    marks = logits(windows, s0_0=2, e0_0=1, s1_0=1, e1_0=1, s2_0=4, e2_0=4, s0_6=3, e0_8=3)
    texts, nbest, null_odds = nbest_answers(squad, windows, marks, n_best_size=20, max_answer_length=30,
                                            lowercase=True)
    # Null score: min(2 + 1, 1 + 1, 4 + 4) = 2; best span "quick brown fox": 6.
    assert texts == {"fox": "quick brown fox"} and null_odds == {"fox": 2.0 - 6.0}
    null = [(e["start_logit"], e["end_logit"]) for e in nbest["fox"] if e["text"] == ""]
    assert null == [(1.0, 1.0)]


def articles(*questions):
    return [{"paragraphs": [{"context": "", "qas": list(questions)}]}]


def squad_of(version, *questions):
    return types.SimpleNamespace(version=version, articles=articles(*questions))


def gold(qid, *texts):
    return {"id": qid, "answers": [{"text": t} for t in texts]}


def test_v1_1_exact_match_and_f1_by_hand_and_by_the_official_script():
    squad = squad_of("1.1", gold("a", "Denver Broncos", "the Denver Broncos"), gold("b", "Denver Broncos"),
                     gold("c", "Carolina Panthers"))
    texts = {"a": "Broncos", "b": "The Denver Broncos!", "c": "Santa Clara"}
    predictions, scores = score(squad, texts, {})
    # a: F1 of "broncos" vs "denver broncos" = 2 * (1 * 1/2) / (1 + 1/2) = 2/3; b: exact after
    # normalisation (case, article, punctuation); c: nothing shared.
    assert predictions == texts
    assert scores == pytest.approx({"exact_match": 100 / 3, "f1": 100 * (2 / 3 + 1) / 3})
    official = squad_evaluate_v1_1.evaluate(squad.articles, texts)
    assert scores == pytest.approx({"exact_match": 100 * official["exact_match"], "f1": 100 * official["final_f1"]})


def threshold_case():
    squad = squad_of("2.0", gold("france", "France"), gold("norse", "Denmark, Iceland and Norway"),
                     gold("cat"), gold("rollo"))
    texts = {"france": "France", "norse": "Iceland and Norway", "cat": "Norway", "rollo": "Rollo"}
    null_odds = {"france": -2.0, "norse": 0.5, "cat": 1.0, "rollo": 3.0}
    return squad, texts, null_odds


def test_v2_0_threshold_is_the_official_best_f1_threshold():
    """Abstaining everywhere scores the two impossible questions (2 of 4).
    Answering in order of rising odds: france +1 (3), norse +6/7 (F1 of 3
    pieces of 4: 2 * 3/4 / (1 + 3/4)), then cat -1 and rollo -1. Best F1
    3 + 6/7 at 0.5; best exact 3 at -2.0 (norse adds 0 exact)."""
    squad, texts, null_odds = threshold_case()
    best = best_threshold(squad, texts, null_odds)
    assert best == pytest.approx({"best_exact": 75.0, "best_exact_thresh": -2.0,
                                  "best_f1": 100 * (3 + 6 / 7) / 4, "best_f1_thresh": 0.5})
    predictions, scores = score(squad, texts, null_odds)
    assert predictions == {"france": "France", "norse": "Iceland and Norway", "cat": "", "rollo": ""}
    assert scores == pytest.approx({
        "exact_match": 75.0, "f1": 100 * (3 + 6 / 7) / 4, "total": 4, **best, "null_score_diff_threshold": 0.5,
        "HasAns_exact": 50.0, "HasAns_f1": 100 * (1 + 6 / 7) / 2, "HasAns_total": 2,
        "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 2,
    })
    official = squad_evaluate_v2_0.evaluate(squad.articles, predictions)
    assert (scores["exact_match"], scores["f1"]) == (official["exact"], official["f1"])


def test_answers_at_a_threshold():
    _, texts, null_odds = threshold_case()
    assert answers_at(texts, null_odds, 1.0) == {"france": "France", "norse": "Iceland and Norway",
                                                 "cat": "Norway", "rollo": ""}


def test_prediction_files_are_written_whole(tmp_path, monkeypatch):
    output = str(tmp_path / "out")
    paths = write_predictions(output, {"q": "France"}, {"q": [{"text": "France"}]}, {"q": -1.5})
    assert sorted(os.listdir(output)) == ["nbest_predictions.json", "null_odds.json", "predictions.json"]
    with open(paths["null_odds.json"]) as f:
        assert json.load(f) == {"q": -1.5}
    assert "null_odds.json" not in write_predictions(str(tmp_path / "v1"), {"q": "a"}, {"q": []}, {})
    # A full disk at the last file: none of the new files replace the old ones.
    real_dump = json.dump

    def dump(content, f, **kwargs):
        if content == {"q": -9.0}:
            raise OSError(28, "No space left on device")
        real_dump(content, f, **kwargs)

    monkeypatch.setattr(squad_predictions.json, "dump", dump)
    with pytest.raises(OutputWriteError, match=r"could not write SQuAD null_odds.json .*No space left on device"):
        write_predictions(output, {"q": ""}, {"q": []}, {"q": -9.0})
    assert sorted(os.listdir(output)) == ["nbest_predictions.json", "null_odds.json", "predictions.json"]
    with open(paths["predictions.json"]) as f:
        assert json.load(f) == {"q": "France"}
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputExistsError, match="is a file"):
        write_predictions(str(tmp_path / "file"), {}, {})
