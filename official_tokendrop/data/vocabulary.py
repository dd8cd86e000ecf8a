"""WordPiece vocabularies: building from text, loading, special-token ids.

    python -m official_tokendrop.data.vocabulary --input_files=a.txt,b.txt \
        --vocab_size=8000 --output_file=vocab.txt [--nodo_lower_case]
"""

import dataclasses
import functools
import hashlib
import json
import sys
import time

import tensorflow as tf
from absl import app, flags, logging

from official_tokendrop.cli import one_line_errors
from official_tokendrop.data import text_files
from official_tokendrop.data.documents import ReadReport, text_lines
from official_tokendrop.data.file_patterns import expand_input_files
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError
from official_tokendrop.utils.outputs import whole

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """A loaded WordPiece vocabulary and the ids the pipeline needs."""

    tokens: tuple
    path: str
    sha256: str

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


def load_vocabulary(path):
    """Reads a one-token-per-line vocab.txt (ours or Google's)."""
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
    return Vocabulary(tokens, path, hashlib.sha256(raw).hexdigest())


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
        json.dump({"lowercase": lowercase, "strip_accents": False}, f)
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
