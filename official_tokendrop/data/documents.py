"""Reading text files as documents: one sentence per line, blank-line breaks.

This is the input format of Model Garden's `create_pretraining_data`.
Undecodable lines are skipped and counted, never guessed at; the report
names each file and line.
"""

import dataclasses
import os

import tensorflow as tf

from official_tokendrop.errors import DataError


@dataclasses.dataclass
class ReadReport:
    files: int = 0
    lines: int = 0
    documents: int = 0
    sentences: int = 0
    undecodable: list = dataclasses.field(default_factory=list)  # (file, line)

    def summary(self, limit=5):
        text = (
            f"{self.files} file(s), {self.lines} lines, {self.documents} "
            f"documents, {self.sentences} sentences"
        )
        if self.undecodable:
            where = ", ".join(f"{f}:{n}" for f, n in self.undecodable[:limit])
            more = len(self.undecodable) - limit
            text += (
                f"; skipped {len(self.undecodable)} undecodable line(s): {where}"
                + (f" and {more} more" if more > 0 else "")
            )
        return text


def _refuse_binary(path, probe_bytes=8000):
    """A NUL byte in the first `probe_bytes` is git's test for binary files."""
    with tf.io.gfile.GFile(path, "rb") as f:
        if b"\x00" in f.read(probe_bytes):
            raise DataError(f"Input {path} is a binary file, not UTF-8 text.")


def _refuse_mostly_undecodable(path, bad, lines):
    if lines and bad * 2 > lines:
        raise DataError(f"Input {path} is not UTF-8 text: {bad} of {lines} lines do not decode.")


def check_text_file(path):
    """Refuses a file that is not text, naming it: binary, or more than half
    of its lines not UTF-8. Silent junk input would train on garbage."""
    _refuse_binary(path)
    lines = bad = 0
    with tf.io.gfile.GFile(path, "rb") as f:
        for raw in f:
            lines += 1
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                bad += 1
    _refuse_mostly_undecodable(path, bad, lines)


def read_documents(paths):
    """Returns `(documents, report)`; a document is a list of sentences."""
    report = ReadReport()
    documents = [[]]
    for path in paths:
        if tf.io.gfile.isdir(path):
            raise DataError(f"Input {path} is a directory, not a text file.")
        # The same test as check_text_file, counted in this single pass.
        _refuse_binary(path)
        report.files += 1
        found_text = False
        lines_before, bad_before = report.lines, len(report.undecodable)
        with tf.io.gfile.GFile(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                report.lines += 1
                try:
                    line = raw.decode("utf-8").strip()
                except UnicodeDecodeError:
                    report.undecodable.append((os.path.basename(path), number))
                    continue
                if not line:
                    if documents[-1]:
                        documents.append([])
                    continue
                found_text = True
                documents[-1].append(line)
        _refuse_mostly_undecodable(
            path, len(report.undecodable) - bad_before, report.lines - lines_before
        )
        if not found_text:
            raise DataError(f"Input file {path} holds no text.")
        if documents[-1]:
            documents.append([])
    documents = [d for d in documents if d]
    report.documents = len(documents)
    report.sentences = sum(len(d) for d in documents)
    return documents, report
