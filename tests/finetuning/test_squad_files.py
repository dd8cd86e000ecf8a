"""Reading official SQuAD files: examples as BERT builds them, and each bad
input as one line naming the file and the question."""

import json

import pytest

from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError
from official_tokendrop.finetuning.squad_files import read_squad, split_words

from squad_samples import FOX, question, v1_questions, v2_questions, write_squad


def test_examples_carry_word_positions_of_the_first_answer(tmp_path):
    squad = read_squad(write_squad(tmp_path / "train.json", v2_questions(), "v2.0"), "2.0", training=True)
    assert [e.qas_id for e in squad.examples] == ["fox", "cat", "land", "owner"]
    fox, cat, land, owner = squad.examples
    assert fox.doc_tokens == ["The", "quick", "brown", "fox", "jumped", "over", "the", "lazy", "dog."]
    assert (fox.start_position, fox.end_position, fox.orig_answer_text) == (1, 3, "quick brown fox")
    assert (cat.start_position, cat.end_position, cat.is_impossible) == (-1, -1, True)
    # "Denmark, Iceland and Norway" spans words 4..7; "Smith" is inside the word "Smith's".
    assert (land.start_position, land.end_position) == (4, 7)
    assert (owner.start_position, owner.end_position, owner.doc_tokens[0]) == (0, 0, "Smith's")
    assert len(squad) == 4 and squad.articles[0]["title"] == "Foxes" and squad.training
    predicted = read_squad(squad.path, "2.0", training=False).examples
    assert [(e.start_position, e.orig_answer_text) for e in predicted] == [(None, None)] * 4


def test_words_split_on_bert_whitespace_only():
    words, word_of_char = split_words("a  b\u202fc\u00a0d")
    # U+202F splits (BERT's rule), U+00A0 does not; a space belongs to the word before it.
    assert words == ["a", "b", "c\u00a0d"]
    assert word_of_char == [0, 0, 0, 1, 1, 2, 2, 2]


def test_a_dev_question_with_several_answers_trains_on_the_first(tmp_path):
    paragraphs = [{"context": FOX, "qas": [{"id": "q", "question": "Who?", "answers": [
        {"text": "fox", "answer_start": 16}, {"text": "brown fox", "answer_start": 10}]}]}]
    example = read_squad(write_squad(tmp_path / "dev.json", paragraphs), "1.1", training=True).examples[0]
    assert (example.start_position, example.end_position, example.orig_answer_text) == (3, 3, "fox")


def bad(tmp_path, content, version="1.1", training=True):
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_squad(str(path), version, training=training)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_file_and_unknown_version(tmp_path):
    with pytest.raises(MissingFileError, match="SQuAD file .*nowhere.json does not exist"):
        read_squad(str(tmp_path / "nowhere.json"), "1.1", training=False)
    with pytest.raises(ConfigurationError, match="SQuAD version '3.0' is not one of"):
        read_squad(str(tmp_path / "nowhere.json"), "3.0", training=False)


def test_json_that_is_not_squad(tmp_path):
    assert "is not JSON (Expecting ',' delimiter at line 1, column 13)" in bad(tmp_path, '{"data": [1 2]}')
    assert "has no \"data\" list of articles" in bad(tmp_path, {"version": "1.1", "articles": []})
    assert "has no \"data\" list of articles" in bad(tmp_path, [1, 2])
    # Hugging Face datasets' flat export: one record per question, no paragraphs.
    flat = {"version": 2.0, "data": [{"id": "a", "question": "Who?", "context": FOX,
                                      "answers": {"answer_start": [16], "text": ["fox"]}}]}
    assert "article 1 has no \"paragraphs\" list" in bad(tmp_path, flat)
    assert "article 1, paragraph 1 needs a \"context\" string and a \"qas\" list" in bad(
        tmp_path, {"data": [{"paragraphs": [{"context": FOX}]}]})
    assert "holds no questions" in bad(tmp_path, {"data": [{"paragraphs": [{"context": FOX, "qas": []}]}]})


def test_questions_without_their_fields(tmp_path):
    def one(qa):
        return {"data": [{"paragraphs": [{"context": FOX, "qas": [qa]}]}]}

    assert "a question in article 1, paragraph 1 has no \"id\" string" in bad(tmp_path, one({"question": "Who?"}))
    assert "question 'q' (article 1, paragraph 1) needs a \"question\" string and an \"answers\" list" in bad(
        tmp_path, one({"id": "q", "question": "Who?"}))
    assert "question 'q' (article 1, paragraph 1): answer 1 needs a non-empty \"text\"" in bad(
        tmp_path, one(question("q", "Who?", " ", 16)))
    assert "answer 1 needs an integer \"answer_start\" (the answer's first character in the context), not '16'" in bad(
        tmp_path, one(question("q", "Who?", "fox", "16")))
    assert "\"is_impossible\" is 'no', not true or false" in bad(
        tmp_path, one(question("q", "Who?", "fox", 16, is_impossible="no")), "2.0")
    assert "is marked impossible but lists answers" in bad(
        tmp_path, one(question("q", "Who?", "fox", 16, is_impossible=True)), "2.0")
    assert "question 'q' (article 1, paragraph 1) lists no answers" in bad(
        tmp_path, one(question("q", "Who?", is_impossible=False)), "2.0")


def test_answer_start_that_misses_its_text(tmp_path):
    paragraphs = v1_questions()
    paragraphs[1]["qas"][0]["answers"][0]["answer_start"] = 25
    message = bad(tmp_path, {"data": [{"paragraphs": paragraphs}]})
    assert message.endswith("question 'land' (article 1, paragraph 2): answer 1's answer_start 25 points at "
                            "'enmark, Iceland and Norway ' in the context, not at its text "
                            "'Denmark, Iceland and Norway'.")
    paragraphs[1]["qas"][0]["answers"][0]["answer_start"] = -1
    assert "answer_start -1 points at ''" in bad(tmp_path, {"data": [{"paragraphs": paragraphs}]})


def test_a_predicted_files_answer_start_is_not_read(tmp_path):
    """Only a predicted answer's text is scored; some SQuAD-format dev files
    set answer_start to null or point it at the text in another case."""
    paragraphs = v1_questions()
    paragraphs[0]["qas"][0]["answers"][0]["answer_start"] = None
    paragraphs[1]["qas"][1]["answers"][0]["answer_start"] = 5
    assert len(read_squad(write_squad(tmp_path / "dev.json", paragraphs), "1.1", training=False)) == 3
    content = {"data": [{"paragraphs": paragraphs}]}
    assert "question 'fox' (article 1, paragraph 1): answer 1 needs an integer \"answer_start\"" in bad(
        tmp_path, content)
    paragraphs[0]["qas"][0]["answers"][0]["answer_start"] = 4
    assert "question 'owner' (article 1, paragraph 2): answer 1's answer_start 5 points at \"'s fo\" in the " \
           "context, not at its text 'Smith'." in bad(tmp_path, content)


def test_impossible_question_in_a_v1_1_file(tmp_path):
    content = {"data": [{"paragraphs": v2_questions()}]}
    message = bad(tmp_path, content, "1.1")
    assert "question 'cat' (article 1, paragraph 1) has no answer (SQuAD v2.0's impossible question)" in message
    assert "run the file as version 2.0" in message
    assert len(read_squad(str(tmp_path / "bad.json"), "2.0", training=True)) == 4


def test_a_repeated_question_id(tmp_path):
    paragraphs = v1_questions()
    paragraphs[1]["qas"][1]["id"] = "fox"
    assert "question id 'fox' (article 1, paragraph 2) is used twice (first in article 1, paragraph 1)" in bad(
        tmp_path, {"data": [{"paragraphs": paragraphs}]})


def test_a_file_that_is_not_text(tmp_path):
    path = tmp_path / "squad.json"
    path.write_bytes(b'{"data": []}\x00\x01')
    with pytest.raises(DataError, match="is a binary file"):
        read_squad(str(path), "1.1", training=False)
