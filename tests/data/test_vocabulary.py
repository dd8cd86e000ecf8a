"""`load_vocabulary`, the one reader of a vocabulary: vocab.txt (with the
settings beside it), transformers' tokenizer.json, keras-hub presets and
model directories; the normalisation each says, and the tokenizer it
builds."""

import hashlib
import json

import keras_hub
import numpy as np
import pytest

import transformers_files
from official_tokendrop.data.create_pretraining_data import CONFIG_FILE, ConversionOptions, convert
from official_tokendrop.data.vocabulary import SPECIAL_TOKENS, load_vocabulary, vocabulary_file
from official_tokendrop.errors import DataError
from transformers_files import BERT_NORMALIZER

# Accented and plain forms side by side, so the ids show which
# normalisation ran.
WORDS = ["the", "cafe", "café", "naive", "naïve", "##s", "word", "Word"]
TOKENS = list(SPECIAL_TOKENS) + WORDS


def write_tokenizer_json(path, tokens=TOKENS, normalizer=BERT_NORMALIZER, **overrides):
    return transformers_files.write_tokenizer_json(path, tokens, normalizer, **overrides)


def _ids(vocab, text):
    return [vocab.tokens[i] for i in np.asarray(vocab.tokenizer()(text))]


def test_tokenizer_json_reads_ids_and_bert_normalisation(tmp_path):
    path = write_tokenizer_json(tmp_path / "tokenizer.json")
    vocab = load_vocabulary(path)
    assert vocab.tokens == tuple(TOKENS) and vocab.path == path
    assert vocab.sha256 == hashlib.sha256(open(path, "rb").read()).hexdigest()
    # strip_accents null follows lowercase, as in BERT.
    assert vocab.normalisation == {"lowercase": True, "strip_accents": True}
    assert _ids(vocab, "The Café NAÏVE words") == ["the", "cafe", "naive", "word", "##s"]
    assert vocab.token_allow_list == (1, 2, 3, 4) and vocab.token_deny_list == (0,)


@pytest.mark.parametrize("normalizer, expected, words", [
    (None, (False, False), ["Word", "café"]),
    ({**BERT_NORMALIZER, "strip_accents": False}, (True, False), ["word", "café"]),
    ({**BERT_NORMALIZER, "lowercase": False}, (False, False), ["Word", "café"]),
    ({**BERT_NORMALIZER, "lowercase": False, "strip_accents": True}, (False, True), ["Word", "cafe"]),
])
def test_tokenizer_json_normalisation_variants(tmp_path, normalizer, expected, words):
    vocab = load_vocabulary(write_tokenizer_json(tmp_path / "tokenizer.json", normalizer=normalizer))
    assert (vocab.lowercase, vocab.strip_accents) == expected
    assert _ids(vocab, "Word café") == words


def test_lowercase_override_keeps_accent_stripping(tmp_path):
    vocab = load_vocabulary(write_tokenizer_json(tmp_path / "tokenizer.json"), lowercase=False)
    assert vocab.normalisation == {"lowercase": False, "strip_accents": True}


def _vocab_txt(directory, tokens=TOKENS):
    path = directory / "vocab.txt"
    path.write_text("\n".join(tokens) + "\n")
    return path


def test_vocab_txt_settings_beside_it(tmp_path):
    plain = _vocab_txt(tmp_path)
    # Nothing recorded: lower-case, accents kept (the project's tokenizer).
    assert load_vocabulary(str(plain)).normalisation == {"lowercase": True, "strip_accents": False}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "strip_accents": None}))
    assert load_vocabulary(str(plain)).normalisation == {"lowercase": True, "strip_accents": True}
    # Ours (vocab.txt.json, written by build_vocabulary) comes first.
    (tmp_path / "vocab.txt.json").write_text(json.dumps({"lowercase": False, "strip_accents": False}))
    assert load_vocabulary(str(plain)).normalisation == {"lowercase": False, "strip_accents": False}


def test_directories_hold_their_vocabulary(tmp_path):
    both, text_only = tmp_path / "both", tmp_path / "text_only"
    both.mkdir()
    text_only.mkdir()
    _vocab_txt(both, TOKENS[:-1])
    write_tokenizer_json(both / "tokenizer.json")
    _vocab_txt(text_only)
    # tokenizer.json first: it carries the normalisation.
    assert vocabulary_file(str(both)) == str(both / "tokenizer.json")
    assert load_vocabulary(str(both)).tokens == tuple(TOKENS)
    assert load_vocabulary(str(text_only)).path == str(text_only / "vocab.txt")
    assert vocabulary_file(str(tmp_path)) is None


def test_keras_hub_preset_tokenizer(tmp_path):
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=TOKENS, lowercase=True, strip_accents=True)
    tokenizer.save_to_preset(str(tmp_path))
    for path in (tmp_path, tmp_path / "tokenizer.json", tmp_path / "assets" / "tokenizer" / "vocabulary.txt"):
        vocab = load_vocabulary(str(path))
        assert vocab.tokens == tuple(TOKENS)
        assert vocab.normalisation == {"lowercase": True, "strip_accents": True}


@pytest.mark.parametrize("overrides, message", [
    ({"type": "BPE"}, r"tokenizer of a 'BPE' model; BERT's is WordPiece"),
    ({"continuing_subword_prefix": "@@"}, r"marks word continuations with '@@'"),
    ({"pre_tokenizer": {"type": "Whitespace"}}, r"'Whitespace' pre-tokenizer"),
    ({"normalizer": {"type": "Sequence", "normalizers": []}}, r"normalises text with 'Sequence'"),
    ({"vocab": {**{t: i for i, t in enumerate(TOKENS)}, "gap": len(TOKENS) + 1}},
     rf"has no token with id {len(TOKENS)} \(of {len(TOKENS) + 1} ids\)"),
    ({"vocab": {**{t: i for i, t in enumerate(TOKENS)}, "twin": 6}}, r"gives id 6 to 'cafe' and to 'twin'"),
])
def test_unusable_tokenizer_json_is_one_line(tmp_path, overrides, message):
    path = write_tokenizer_json(tmp_path / "tokenizer.json", **overrides)
    with pytest.raises(DataError, match=message) as caught:
        load_vocabulary(path)
    assert "\n" not in str(caught.value) and path in str(caught.value)


def test_unreadable_json_is_one_line(tmp_path):
    (tmp_path / "tokenizer.json").write_text('{"model": ')
    with pytest.raises(DataError, match=r"tokenizer.json is not readable JSON \(Expecting value"):
        load_vocabulary(str(tmp_path))
    (tmp_path / "tokenizer.json").write_text("[1, 2]")
    with pytest.raises(DataError, match=r"holds JSON but no tokenizer"):
        load_vocabulary(str(tmp_path))


def test_converter_tokenizes_as_the_tokenizer_json_says(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("The Café words\nNaïve word\n\nThe cafe\n")
    vocab_path = write_tokenizer_json(tmp_path / "tokenizer.json")
    out = tmp_path / "out"
    options = ConversionOptions(seq_length=16, max_predictions_per_seq=2, dynamic_masking=True)
    summary = convert([str(text)], vocab_path, str(out), options)
    assert summary["unk_fraction"] == 0  # "Café" and "Naïve" lose their accents, as in BERT
    settings = json.loads((out / CONFIG_FILE).read_text())
    assert (settings["do_lower_case"], settings["strip_accents"]) == (True, True)
    # A directory converted before strip_accents was recorded (no key:
    # accents kept) still matches a vocabulary that keeps them.
    plain = _vocab_txt(tmp_path)
    older = tmp_path / "older"
    convert([str(text)], str(plain), str(older), options)
    recorded = json.loads((older / CONFIG_FILE).read_text())
    assert recorded.pop("strip_accents") is False
    (older / CONFIG_FILE).write_text(json.dumps(recorded))
    convert([str(text)], str(plain), str(older), options)
    with pytest.raises(DataError, match=r"strip_accents: False != True"):
        convert([str(text)], vocab_path, str(older), options)
