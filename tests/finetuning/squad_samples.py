"""Tiny SQuAD files in the official layouts, and a tiny BERT whose
vocabulary holds every word of them (shared by the SQuAD tests)."""

import json

import keras_hub

FOX = "The quick brown fox jumped over the lazy dog."
NORSE = "Smith's foxes came from Denmark, Iceland and Norway in 1066."
VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "'", "the", "quick", "brown", "fox", "##es",
    "jumped", "over", "lazy", "dog", "s", "smith", "came", "from", "denmark", "iceland", "and", "norway", "in", "come",
    "10", "##66", "who", "what", "where", "did", "whose", "when", "cat", "eat",
]


def question(qid, text, answer=None, start=None, **extra):
    answers = [] if answer is None else [{"text": answer, "answer_start": start}]
    return {"id": qid, "question": text, "answers": answers, **extra}


def v1_questions():
    return [
        {"context": FOX, "qas": [question("fox", "Who jumped?", "quick brown fox", 4)]},
        {"context": NORSE, "qas": [
            question("land", "Where did the foxes come from?", "Denmark, Iceland and Norway", 24),
            question("owner", "Whose foxes?", "Smith", 0),
        ]},
    ]


def v2_questions():
    paragraphs = v1_questions()
    for paragraph in paragraphs:
        for qa in paragraph["qas"]:
            qa["is_impossible"] = False
    paragraphs[0]["qas"].append(question("cat", "What did the cat eat?", is_impossible=True,
                                         plausible_answers=[{"text": "dog", "answer_start": 41}]))
    return paragraphs


def write_squad(path, paragraphs, version="1.1"):
    """`paragraphs` as an official SQuAD file (one article) at `path`."""
    content = {"version": version, "data": [{"title": "Foxes", "paragraphs": paragraphs}]}
    path.write_text(json.dumps(content), encoding="utf-8")
    return str(path)


def tokenizer():
    return keras_hub.models.BertTokenizer(vocabulary=VOCABULARY, lowercase=True)


def backbone(sequence_length=32):
    return keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=sequence_length, dropout=0.0,
    )


def pretrained(sequence_length=32):
    """A `finetuning.pretrained.Pretrained` of a fresh tiny backbone."""
    from official_tokendrop.data.vocabulary import Vocabulary
    from official_tokendrop.finetuning.pretrained import Pretrained

    vocabulary = Vocabulary(tokens=tuple(VOCABULARY), path="tiny", sha256="")
    return Pretrained("tiny", backbone(sequence_length), tokenizer(), vocabulary, source=None)
