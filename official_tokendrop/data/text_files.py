"""Decoding the small text files users bring: task files, vocabularies and
the JSON settings beside them.

UTF-8, with or without a byte-order mark, and UTF-16 with one (what
Excel's "Unicode text" export writes) are read. Anything else is refused
with the file and line, never guessed at: cp1252 and latin-1 decode every
byte, so a guess would turn a wrong encoding into silently wrong text.
Vocabularies must be plain UTF-8 besides (`byte_order_mark`), because
keras-hub and tensorflow-text read them too. Corpora are streamed line by
line instead (`documents.py`); they share the binary test.
"""

import codecs
import json

import tensorflow as tf

from official_tokendrop.errors import DataError, MissingFileError

UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
PROBE_BYTES = 8000


def is_utf16(head):
    return head.startswith(UTF16_BOMS)


def byte_order_mark(head):
    """The encoding whose byte-order mark `head` starts with, or None."""
    return "UTF-16" if is_utf16(head) else "UTF-8" if head.startswith(codecs.BOM_UTF8) else None


def refuse_binary(path, head):
    """A NUL byte in the first `PROBE_BYTES` is git's test for binary files;
    UTF-16 without a byte-order mark fails it too (every ASCII character
    carries a NUL)."""
    if b"\x00" in head[:PROBE_BYTES]:
        raise DataError(f"{path} is a binary file (or UTF-16 without a byte-order mark), not text.")


def read_bytes(path, what):
    """The bytes of the file `path`; `what` names it in the errors."""
    if not tf.io.gfile.exists(path):
        raise MissingFileError(f"{what} {path} does not exist.")
    if tf.io.gfile.isdir(path):
        raise DataError(f"{what} {path} is a directory, not a file.")
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def decode(path, raw):
    """`raw` (the bytes of `path`) as text, without a byte-order mark."""
    if is_utf16(raw):
        encoding, hint = "utf-16", "is not UTF-16 (a truncated file?)"
    else:
        refuse_binary(path, raw)
        encoding, hint = "utf-8-sig", "is not UTF-8 (a cp1252 or latin-1 export?); save the file as UTF-8"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataError(f"{path}:{line}: byte 0x{raw[error.start]:02x} {hint}.") from None


def read_json(path, what):
    """The JSON document in the file `path` (decoded as `decode` does);
    `what` names it in the errors."""
    text = decode(path, read_bytes(path, what))
    try:
        return json.loads(text)
    except ValueError as error:
        raise DataError(f"{what} {path} is not readable JSON ({error}).") from None
