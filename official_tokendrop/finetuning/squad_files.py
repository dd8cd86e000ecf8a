"""Reading the official SQuAD JSON (v1.1 and v2.0) into Model Garden's
`squad_lib.SquadExample`s, checking it first.

    squad = read_squad("dev-v2.0.json", "2.0", training=False)
    squad.examples      # one SquadExample per question, in file order
    squad.articles      # the file's "data", as the official scripts read it

Every question of the file is checked before anything is built, and a
mistake is one line naming the file and the question (its id, article and
paragraph): a file that is missing, not JSON or not in the official layout
(`{"data": [{"paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}]}]}]}]}`), a repeated id, an
`answer_start` that does not point at its answer's text in the context,
and, in a v1.1 run, a question without an answer. `answer_start` is read
(and checked) in training files only: a predicted file's answers are scored
by their text alone, as the official scripts do, and some SQuAD-format dev
files leave it null or let it point at the text in another case.

Model Garden's `squad_lib.read_squad_examples` is not used: it opens the file
itself (no one-line errors), refuses training questions with more than one
answer (dev files have three; we train on the first, as transformers'
`run_qa` does) and silently drops answers it cannot find again. The
examples are built the same way (BERT's): the context split on whitespace
(space, tab, CR, LF and U+202F) into words, an answer's first and last
characters mapped to the words holding them.
"""

import dataclasses
import json

from official.nlp.data.squad_lib import SquadExample

from official_tokendrop.data import text_files
from official_tokendrop.errors import ConfigurationError, DataError

VERSIONS = ("1.1", "2.0")
# What BERT's SQuAD reader splits a context on (U+202F: narrow no-break space).
WHITESPACE = frozenset(" \t\r\n\u202f")
LAYOUT = ('the official SQuAD JSON: {"data": [{"paragraphs": [{"context": ..., "qas": [{"id": ..., '
          '"question": ..., "answers": [{"text": ..., "answer_start": ...}]}]}]}]}')


@dataclasses.dataclass(frozen=True)
class SquadFile:
    """A checked SQuAD file.

    Args:
        path: str. The file as the user named it.
        version: str. "1.1" or "2.0", the version it was read as.
        training: bool. Whether it was read as a training file.
        articles: list. The file's "data": what the official evaluation
            scripts (`official.nlp.tools.squad_evaluate_v*`) read.
        examples: list of `squad_lib.SquadExample`, one per question in file
            order. In a training file answerable questions carry their first
            answer's text and word positions, impossible ones (v2.0) -1 and
            `is_impossible=True`; a predicted file's carry no answer.
    """

    path: str
    version: str
    training: bool
    articles: list
    examples: list

    def __len__(self):
        return len(self.examples)


def check_version(version):
    if version not in VERSIONS:
        raise ConfigurationError(f"SQuAD version {version!r} is not one of {list(VERSIONS)}.")
    return version


def read_squad(path, version, *, training):
    """The SQuAD file `path` read as `version` ("1.1" or "2.0"), checked; a
    `training` file's answers need an `answer_start` at their text."""
    check_version(version)
    text = text_files.decode(path, text_files.read_bytes(path, "SQuAD file"))
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path} is not JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
                        f"a SQuAD file is {LAYOUT}.") from None
    articles = content.get("data") if isinstance(content, dict) else None
    if not isinstance(articles, list):
        raise DataError(f"{path} is not a SQuAD file: it has no \"data\" list of articles; a SQuAD file is {LAYOUT}.")
    examples, seen = [], {}
    for article_number, article in enumerate(articles, start=1):
        for paragraph_number, paragraph in enumerate(_paragraphs(path, article, article_number), start=1):
            where = f"article {article_number}, paragraph {paragraph_number}"
            context, questions = _context_and_questions(path, paragraph, where)
            words, word_of_char = split_words(context)
            for question in questions:
                qid = _check_question(path, where, question, (version, training), context)
                if qid in seen:
                    raise DataError(f"{path}: question id {qid!r} ({where}) is used twice (first in {seen[qid]}); "
                                    "predictions are matched to questions by id.")
                seen[qid] = where
                examples.append(_example(question, words, word_of_char, training))
    if not examples:
        raise DataError(f"{path} holds no questions; a SQuAD file is {LAYOUT}.")
    return SquadFile(path, version, training, articles, examples)


def split_words(context):
    """BERT's whitespace words of `context`, and for each character the
    index of the word holding it (a space: the word before it)."""
    words, word_of_char, after_space = [], [], True
    for char in context:
        if char in WHITESPACE:
            after_space = True
        elif after_space:
            words.append(char)
            after_space = False
        else:
            words[-1] += char
        word_of_char.append(len(words) - 1)
    return words, word_of_char


def _paragraphs(path, article, number):
    paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
    if not isinstance(paragraphs, list):
        raise DataError(f"{path}: article {number} has no \"paragraphs\" list, so this is not the official SQuAD "
                        f"layout (a flat one, as Hugging Face datasets' exports?); a SQuAD file is {LAYOUT}.")
    return paragraphs


def _context_and_questions(path, paragraph, where):
    context = paragraph.get("context") if isinstance(paragraph, dict) else None
    questions = paragraph.get("qas") if isinstance(paragraph, dict) else None
    if not isinstance(context, str) or not isinstance(questions, list):
        raise DataError(f"{path}: {where} needs a \"context\" string and a \"qas\" list; a SQuAD file is {LAYOUT}.")
    return context, questions


def _check_question(path, where, question, reading, context):
    """The question's id, once its fields, its answers and their positions
    in `context` are as `reading`, (version, training), requires."""
    version, training = reading
    qid = question.get("id") if isinstance(question, dict) else None
    if not isinstance(qid, str) or not qid:
        raise DataError(f"{path}: a question in {where} has no \"id\" string.")
    here = f"{path}: question {qid!r} ({where})"
    answers = question.get("answers")
    if not isinstance(question.get("question"), str) or not isinstance(answers, list):
        raise DataError(f"{here} needs a \"question\" string and an \"answers\" list.")
    impossible = question.get("is_impossible", not answers)
    if not isinstance(impossible, bool):
        raise DataError(f"{here}: \"is_impossible\" is {impossible!r}, not true or false.")
    if impossible and version == "1.1":
        raise DataError(f"{here} has no answer (SQuAD v2.0's impossible question); every SQuAD v1.1 question "
                        "has one: run the file as version 2.0.")
    if impossible == bool(answers):
        state = "is marked impossible but lists answers" if impossible else "lists no answers"
        raise DataError(f"{here} {state}; an answerable question has answers, an impossible one "
                        "(\"is_impossible\": true) none.")
    for number, answer in enumerate(answers, start=1):
        _check_answer(f"{here}: answer {number}", answer, context, training)
    return qid


def _check_answer(here, answer, context, training):
    text = answer.get("text") if isinstance(answer, dict) else None
    start = answer.get("answer_start") if isinstance(answer, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{here} needs a non-empty \"text\".")
    if not training:
        return  # only the text of a predicted file's answers is scored
    if type(start) is not int:
        raise DataError(f"{here} needs an integer \"answer_start\" (the answer's first character in the "
                        f"context), not {start!r}.")
    found = context[start:start + len(text)] if 0 <= start else ""
    if found != text:
        raise DataError(f"{here}'s answer_start {start} points at {found!r} in the context, "
                        f"not at its text {text!r}.")


def _example(question, words, word_of_char, training):
    if not training:
        return SquadExample(question["id"], question["question"], words)
    if not question["answers"]:
        return SquadExample(question["id"], question["question"], words, orig_answer_text="",
                            start_position=-1, end_position=-1, is_impossible=True)
    answer = question["answers"][0]
    start, text = answer["answer_start"], answer["text"]
    return SquadExample(question["id"], question["question"], words, orig_answer_text=text,
                        start_position=word_of_char[start], end_position=word_of_char[start + len(text) - 1])
