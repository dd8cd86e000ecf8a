"""WordPiece vocabularies: building from text, loading, special-token ids.

    python -m official_tokendrop.data.vocabulary --input_files=a.txt,b.txt \
        --vocab_size=8000 --output_file=vocab.txt [--nodo_lower_case]

`load_vocabulary` is the one reader of a vocabulary, in every form a BERT
ships one: a one-token-per-line `vocab.txt` (ours, Google's, transformers'),
a transformers `tokenizer.json` (a WordPiece model), a keras-hub preset's
tokenizer, or a model directory holding one of these. The `Vocabulary` it
returns also says how text is normalised before WordPiece (lower-casing,
accent stripping), so that every tokenizer built from it (`tokenizer()`:
the converter, export, fine-tuning) splits text as the source model did.
"""

import dataclasses
import functools
import hashlib
import json
import os
import sys
import time

import tensorflow as tf
from absl import app, flags, logging

from official_tokendrop.cli import one_line_errors
from official_tokendrop.data import text_files
from official_tokendrop.data.documents import ReadReport, text_lines
from official_tokendrop.data.file_patterns import expand_input_files
from official_tokendrop.errors import ConfigurationError, DataError
from official_tokendrop.utils.outputs import whole

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
# The files a model directory may keep its vocabulary in, in the order
# they are looked for: transformers' (or keras-hub's) tokenizer, then a
# plain list.
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt")


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """A loaded WordPiece vocabulary, its normalisation and the ids the
    pipeline needs.

    Args:
        tokens: tuple of str, in id order.
        path: str. The file it was read from.
        sha256: str. Hash of that file's bytes.
        lowercase: bool. Text is lower-cased before WordPiece (an uncased
            vocabulary).
        strip_accents: bool. Accents are removed before WordPiece.
    """

    tokens: tuple
    path: str
    sha256: str
    lowercase: bool = True
    strip_accents: bool = False

    def __post_init__(self):
        missing = [t for t in SPECIAL_TOKENS if t not in self.index]
        if missing:
            raise DataError(
                f"Vocabulary {self.path} lacks the special tokens {missing}; "
                f"a BERT vocabulary needs all of {list(SPECIAL_TOKENS)}."
            )

    @functools.cached_property
    def index(self):
        return {t: i for i, t in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    def id(self, token):
        return self.index[token]

    @property
    def normalisation(self):
        """`{"lowercase": ..., "strip_accents": ...}`: keras-hub's
        tokenizer arguments, as `vocab.txt.json` records them."""
        return {"lowercase": self.lowercase, "strip_accents": self.strip_accents}

    def tokenizer(self, **kwargs):
        """A keras-hub `BertTokenizer` of these tokens that normalises text
        as this vocabulary says; `kwargs` go to its constructor."""
        import keras_hub

        return keras_hub.models.BertTokenizer(vocabulary=list(self.tokens), **self.normalisation, **kwargs)

    @property
    def special_ids(self):
        """Ids of every bracketed token ([PAD], [CLS], [unused0], ...)."""
        return tuple(
            i
            for i, t in enumerate(self.tokens)
            if t.startswith("[") and t.endswith("]")
        )

    @property
    def token_allow_list(self):
        """Ids that token dropping always keeps: [UNK] [CLS] [SEP] [MASK]."""
        return tuple(self.id(t) for t in (UNK, CLS, SEP, MASK))

    @property
    def token_deny_list(self):
        """Ids that token dropping drops first: [PAD]."""
        return (self.id(PAD),)

    @property
    def continuation_mask(self):
        """`mask[id]` is True where the WordPiece continues a word (##x)."""
        return [t.startswith("##") for t in self.tokens]


def vocabulary_file(directory):
    """The file of `directory` (a model directory) that holds its
    vocabulary (`VOCABULARY_FILES`), or None."""
    for name in VOCABULARY_FILES:
        path = os.path.join(directory, name)
        if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
            return path
    return None


def load_vocabulary(path, lowercase=None):
    """The `Vocabulary` of `path`: a vocab.txt (one token per line), a
    transformers `tokenizer.json` (WordPiece), a keras-hub preset's
    `tokenizer.json`, or a directory holding one (`vocabulary_file`).

    A vocab.txt's normalisation is read beside it: `<path>.json` (what
    `build_vocabulary` writes), transformers' `tokenizer_config.json`, or
    the `tokenizer.json` of the keras-hub preset whose asset it is;
    without any, text is lower-cased and accents are kept (this project's
    tokenization before vocabularies recorded theirs). `lowercase` (a
    program's `--do_lower_case`) replaces the lower-casing where it is not
    None.
    """
    vocab = _load(str(path))
    return vocab if lowercase is None else dataclasses.replace(vocab, lowercase=bool(lowercase))


def _load(path):
    if tf.io.gfile.isdir(path):
        found = vocabulary_file(path)
        if found is None:
            raise DataError(f"Vocabulary file {path} is a directory without "
                            f"{' or '.join(VOCABULARY_FILES)}.")
        path = found
    if path.endswith(".json"):
        return _tokenizer_json(path)
    return _vocab_txt(path)


def _vocab_txt(path):
    """A one-token-per-line file, normalised as the settings beside it say."""
    raw = text_files.read_bytes(path, "Vocabulary file")
    mark = text_files.byte_order_mark(raw)
    if mark:
        raise DataError(f"Vocabulary file {path} starts with a {mark} byte-order mark; keras-hub and "
                        "tensorflow-text read vocabularies as UTF-8 without one: save it that way.")
    tokens = tuple(line.strip() for line in text_files.decode(path, raw).splitlines())
    tokens = tuple(t for t in tokens if t)
    if not tokens:
        raise DataError(f"Vocabulary file {path} is empty.")
    seen = {}
    for number, token in enumerate(tokens, start=1):
        if token in seen:
            raise DataError(
                f"Vocabulary file {path} lists {token!r} twice (entries {seen[token]} and "
                f"{number}); every token needs one id."
            )
        seen[token] = number
    return Vocabulary(tokens, path, hashlib.sha256(raw).hexdigest(), **_settings_beside(path))


def _bert_normalisation(lowercase, strip_accents):
    """BERT's rule (Google's tokenizer, transformers' `BertNormalizer` and
    `BertTokenizer`): accents are stripped where text is lower-cased,
    unless told otherwise (`strip_accents` None follows `lowercase`)."""
    return {"lowercase": bool(lowercase),
            "strip_accents": bool(lowercase if strip_accents is None else strip_accents)}


def _settings_beside(path):
    """The normalisation of the vocab.txt `path`, from the settings files
    that sit beside it (see `load_vocabulary`)."""
    ours = path + ".json"
    if tf.io.gfile.exists(ours):
        settings = text_files.read_json(ours, "Vocabulary settings")
        return {key: bool(settings.get(key, default)) for key, default in
                (("lowercase", True), ("strip_accents", False))}
    directory = os.path.dirname(path)
    transformers = os.path.join(directory, "tokenizer_config.json")
    if tf.io.gfile.exists(transformers):
        settings = text_files.read_json(transformers, "Tokenizer settings")
        return _bert_normalisation(settings.get("do_lower_case", True), settings.get("strip_accents"))
    # keras-hub presets keep the vocabulary as assets/tokenizer/vocabulary.txt
    # and the tokenizer's settings in the preset's tokenizer.json.
    preset = os.path.dirname(os.path.dirname(directory))
    keras_hub_settings = os.path.join(preset, "tokenizer.json")
    if directory.endswith(os.path.join("assets", "tokenizer")) and tf.io.gfile.exists(keras_hub_settings):
        config = text_files.read_json(keras_hub_settings, "Tokenizer settings").get("config") or {}
        return {"lowercase": bool(config.get("lowercase", False)),
                "strip_accents": bool(config.get("strip_accents", False))}
    return {"lowercase": True, "strip_accents": False}


def _tokenizer_json(path):
    """A transformers `tokenizer.json`, or a keras-hub preset's (whose
    tokens are its asset file)."""
    spec = text_files.read_json(path, "Vocabulary file")
    if not isinstance(spec, dict):
        raise DataError(f"Vocabulary file {path} holds JSON but no tokenizer.")
    if "class_name" in spec:  # keras-hub's serialized tokenizer
        asset = os.path.join(os.path.dirname(path), "assets", "tokenizer", "vocabulary.txt")
        if not tf.io.gfile.exists(asset):
            raise DataError(f"Vocabulary file {path} is a keras-hub {spec['class_name']} whose "
                            f"vocabulary {asset} is not there.")
        return _load(asset)
    model = spec.get("model") or {}
    if model.get("type") != "WordPiece":
        raise DataError(f"Vocabulary file {path} is a transformers tokenizer of a {model.get('type')!r} model; "
                        "BERT's is WordPiece.")
    if model.get("continuing_subword_prefix", "##") != "##":
        raise DataError(f"Vocabulary file {path} marks word continuations with "
                        f"{model['continuing_subword_prefix']!r}; keras-hub's WordPiece takes '##'.")
    pre_tokenizer = (spec.get("pre_tokenizer") or {}).get("type")
    if pre_tokenizer != "BertPreTokenizer":
        raise DataError(f"Vocabulary file {path} splits words with the {pre_tokenizer!r} pre-tokenizer; "
                        "keras-hub's BertTokenizer splits as BertPreTokenizer does (whitespace and punctuation).")
    raw = text_files.read_bytes(path, "Vocabulary file")
    return Vocabulary(_tokens_by_id(path, spec), path, hashlib.sha256(raw).hexdigest(),
                      **_normalizer(path, spec.get("normalizer")))


def _tokens_by_id(path, spec):
    """The WordPiece `vocab` {token: id} and the added tokens, in id order;
    every id from 0 on must name one token."""
    ids = dict(spec["model"].get("vocab") or {})
    for added in spec.get("added_tokens") or ():
        ids.setdefault(added["content"], added["id"])
    by_id = {}
    for token, i in ids.items():
        if i in by_id:
            raise DataError(f"Vocabulary file {path} gives id {i} to {by_id[i]!r} and to {token!r}; "
                            "every token needs its own id.")
        by_id[i] = token
    gaps = sorted(set(range(len(by_id))) - set(by_id))
    if gaps:
        raise DataError(f"Vocabulary file {path} has no token with id {gaps[0]} (of {len(by_id)} ids); "
                        "ids must run from 0 without gaps.")
    return tuple(by_id[i] for i in range(len(by_id)))


def _normalizer(path, normalizer):
    """keras-hub's tokenizer arguments of a transformers normalizer."""
    if normalizer is None:
        return {"lowercase": False, "strip_accents": False}
    if normalizer.get("type") != "BertNormalizer":
        raise DataError(f"Vocabulary file {path} normalises text with {normalizer.get('type')!r}; "
                        "keras-hub's BertTokenizer normalises as BertNormalizer does (lower-casing, "
                        "accent stripping).")
    return _bert_normalisation(normalizer.get("lowercase", True), normalizer.get("strip_accents"))


def build_vocabulary(
    input_files, vocab_size, output_file, lowercase=True, max_lines=None
):
    """Learns a WordPiece vocabulary with keras-hub and writes vocab.txt.

    Args:
        input_files: text files, one sentence or line per line.
        vocab_size: target size (the learner may return fewer tokens).
        output_file: where to write the vocabulary.
        lowercase: lower-case (an uncased vocabulary). Accents are kept,
            as keras-hub's `BertTokenizer` keeps them when the converter
            and the exported presets tokenize: one normalisation
            everywhere, recorded beside the vocabulary in
            `<output_file>.json`.
        max_lines: learn from at most this many non-empty lines.

    Returns:
        The loaded `Vocabulary`.
    """
    import keras_hub

    if vocab_size <= len(SPECIAL_TOKENS):
        raise ConfigurationError(f"vocab_size={vocab_size} leaves no room for words: the special tokens "
                                 f"{list(SPECIAL_TOKENS)} take {len(SPECIAL_TOKENS)} entries.")
    lines, report = [], ReadReport()
    for path in expand_input_files(input_files):
        lines.extend(line for line in text_lines(path, report) if line)
        if max_lines and len(lines) >= max_lines:
            lines = lines[:max_lines]
            break
    if report.undecodable:  # the converter skips the same lines
        logging.warning("%s", report.skipped())
    if not lines:
        raise DataError(f"No text in {list(input_files)} to build a vocabulary.")
    start = time.time()
    logging.info("Learning a %d-token vocabulary from %d lines", vocab_size, len(lines))
    tokens = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(lines).batch(1024),
        vocabulary_size=vocab_size,
        lowercase=lowercase,
        strip_accents=False,
        reserved_tokens=list(SPECIAL_TOKENS),
    )
    # The settings first, the vocabulary last: a vocab.txt (which the demo
    # data and the study reuse when it is there) is always whole.
    with whole("vocabulary settings", output_file + ".json") as temporary, open(temporary, "w") as f:
        json.dump(_bert_normalisation(lowercase, False), f)
    with whole("vocabulary", output_file) as temporary, open(temporary, "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token in tokens))
    vocab = load_vocabulary(output_file)
    logging.info(
        "Wrote %d tokens to %s in %.1fs", len(vocab), output_file, time.time() - start
    )
    return vocab


FLAGS = flags.FLAGS


@one_line_errors("vocabulary")
def main(argv):
    del argv
    vocab = build_vocabulary(
        FLAGS.input_files,
        FLAGS.vocab_size,
        FLAGS.output_file,
        lowercase=FLAGS.do_lower_case,
        max_lines=FLAGS.max_lines,
    )
    print(f"{len(vocab)} tokens -> {FLAGS.output_file}", file=sys.stderr)


if __name__ == "__main__":
    flags.DEFINE_list("input_files", None, "Text files or globs (comma-separated).")
    flags.DEFINE_integer("vocab_size", 8000, "Target vocabulary size.")
    flags.DEFINE_string("output_file", None, "Where to write vocab.txt.")
    flags.DEFINE_bool("do_lower_case", True, "Uncased vocabulary.")
    flags.DEFINE_integer("max_lines", None, "Learn from at most this many lines.")
    flags.mark_flags_as_required(["input_files", "output_file"])
    app.run(lambda argv: sys.exit(main(argv)))
