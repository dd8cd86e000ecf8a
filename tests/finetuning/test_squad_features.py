"""SQuAD windows: word pieces of the model's own tokenizer, windows with a
document stride, labels and the context each piece came from (hand-checked)."""

import numpy as np
import pytest

from official_tokendrop.errors import DataError
from official_tokendrop.finetuning.squad_features import WordPieces, squad_windows
from official_tokendrop.finetuning.squad_files import read_squad

import squad_samples
from squad_samples import FOX, question, write_squad

PIECES = WordPieces(squad_samples.tokenizer())


def fox_file(tmp_path, question_text="Who jumped?", qid="fox", training=True):
    qa = question(qid, question_text, "quick brown fox", 4)
    return read_squad(write_squad(tmp_path / "fox.json", [{"context": FOX, "qas": [qa]}]), "1.1", training=training)


def test_word_pieces_are_the_keras_hub_tokenizers():
    assert PIECES.tokenize("Smith's foxes, 1066.") == ["smith", "'", "s", "fox", "##es", ",", "10", "##66", "."]
    assert PIECES.tokenize("Café") == ["[UNK]"]
    assert PIECES.convert_tokens_to_ids(["[CLS]", "fox", "##es"]) == [2, 12, 13]
    assert PIECES.lowercase is True


def test_windows_with_a_document_stride(tmp_path):
    """Question "who jumped ?" (3 pieces) and 10 context pieces in windows of
    12 - 3 - 3 = 6 pieces, 3 apart: context pieces 0-5, 3-8 and 6-9."""
    windows = squad_windows(fox_file(tmp_path), PIECES, sequence_length=12, doc_stride=3,
                            max_query_length=8)
    assert len(windows) == 3
    first, second, third = windows.features
    head = ["[CLS]", "who", "jumped", "?", "[SEP]"]
    assert first.tokens == head + ["the", "quick", "brown", "fox", "jumped", "over", "[SEP]"]
    assert second.tokens == head + ["fox", "jumped", "over", "the", "lazy", "dog", "[SEP]"]
    assert third.tokens == head + ["the", "lazy", "dog", ".", "[SEP]"]
    # Each window position -> the context word it came from ("dog." is word 8).
    assert first.token_to_orig_map == {5: 0, 6: 1, 7: 2, 8: 3, 9: 4, 10: 5}
    assert third.token_to_orig_map == {5: 6, 6: 7, 7: 8, 8: 8}
    # A piece counts in the window with the most context around it (min of
    # left and right, ties to the first): "jumped" in the first, "over",
    # "the", "lazy" in the second, "dog" in the third.
    assert second.token_is_max_context == {5: False, 6: False, 7: True, 8: True, 9: True, 10: False}
    assert third.token_is_max_context == {5: False, 6: False, 7: True, 8: True}
    # "quick brown fox" is at positions 6..8 of the first window only; the
    # others point at [CLS].
    np.testing.assert_array_equal(windows.labels(), [[6, 8], [0, 0], [0, 0]])
    inputs = windows.inputs()
    np.testing.assert_array_equal(inputs["token_ids"][2], [2, 30, 14, 7, 3, 9, 16, 17, 5, 3, 0, 0])
    np.testing.assert_array_equal(inputs["segment_ids"][2], [0] * 5 + [1] * 5 + [0, 0])
    np.testing.assert_array_equal(inputs["padding_mask"][2], [1] * 10 + [0, 0])


def test_an_answer_inside_a_word_is_labelled_with_its_pieces(tmp_path):
    qa = question("owner", "Whose foxes?", "foxes", 8)
    squad = read_squad(write_squad(tmp_path / "s.json", [{"context": squad_samples.NORSE, "qas": [qa]}]), "1.1",
                       training=True)
    window = squad_windows(squad, PIECES, sequence_length=32, doc_stride=8, max_query_length=8)
    # [CLS] whose fox ##es ? [SEP] smith ' s fox ##es ...: "foxes" is pieces 9..10.
    assert window.features[0].tokens[9:11] == ["fox", "##es"]
    np.testing.assert_array_equal(window.labels(), [[9, 10]])


def test_impossible_questions_point_at_cls(tmp_path):
    squad = read_squad(write_squad(tmp_path / "v2.json", squad_samples.v2_questions()), "2.0", training=True)
    windows = squad_windows(squad, PIECES, sequence_length=32, doc_stride=8, max_query_length=16)
    cat = [f for f in windows.features if squad.examples[f.example_index].qas_id == "cat"]
    assert len(cat) == 1 and (cat[0].start_position, cat[0].end_position) == (0, 0)


def test_prediction_windows_have_no_padding_copies(tmp_path):
    windows = squad_windows(fox_file(tmp_path, training=False), PIECES, sequence_length=12, doc_stride=3,
                            max_query_length=8)
    assert [f.unique_id for f in windows.features] == [1000000000, 1000000001, 1000000002]


def test_a_question_longer_than_the_sequence(tmp_path):
    squad = fox_file(tmp_path, "Who jumped over the lazy brown dog?", qid="long")
    with pytest.raises(DataError) as error:
        squad_windows(squad, PIECES, sequence_length=10, doc_stride=3, max_query_length=64)
    assert str(error.value) == (
        f"{squad.path}: question 'long' has 8 word pieces, so with sequence_length=10 no context fits beside it "
        "([CLS] and two [SEP] take 3); lower max_query_length below 7 or raise sequence_length.")
    with pytest.raises(DataError, match="has 8 word pieces, cut to max_query_length=7, so"):
        squad_windows(squad, PIECES, sequence_length=10, doc_stride=3, max_query_length=7)
    # Cut to 6 pieces, one context piece fits beside it: a window per piece.
    windows = squad_windows(squad, PIECES, sequence_length=10, doc_stride=3, max_query_length=6)
    assert len(windows) == 10


def test_windows_are_not_logged_one_by_one(tmp_path, caplog):
    from absl import logging

    before = logging.get_verbosity()
    logging.set_verbosity(logging.INFO)
    try:
        with caplog.at_level("INFO"):
            squad_windows(fox_file(tmp_path), PIECES, sequence_length=12, doc_stride=3, max_query_length=8)
        assert logging.get_verbosity() == logging.INFO
    finally:
        logging.set_verbosity(before)
    assert not [r for r in caplog.records if "Example" in r.getMessage() or "unique_id" in r.getMessage()]
