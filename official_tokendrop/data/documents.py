"""Reading text files as documents: one sentence per line, blank-line breaks.

This is the input format of Model Garden's `create_pretraining_data`.
Undecodable lines are skipped and counted, never guessed at; the report
names each file and line.
"""

import dataclasses
import os

import tensorflow as tf

from official_tokendrop.data import text_files
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
        return text + (f"; {self.skipped(limit)}" if self.undecodable else "")

    def skipped(self, limit=5):
        where = ", ".join(f"{f}:{n}" for f, n in self.undecodable[:limit])
        more = len(self.undecodable) - limit
        return (
            f"skipped {len(self.undecodable)} undecodable line(s): {where}"
            + (f" and {more} more" if more > 0 else "")
        )


def _refuse_binary(path):
    with tf.io.gfile.GFile(path, "rb") as f:
        head = f.read(text_files.PROBE_BYTES)
    if text_files.is_utf16(head):
        # Streamed line by line, a corpus is read as UTF-8 only.
        raise DataError(f"Input {path} is UTF-16 text; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8).")
    text_files.refuse_binary(f"Input {path}", head)


def _refuse_mostly_undecodable(path, bad, lines):
    if lines and bad * 2 > lines:
        raise DataError(f"Input {path} is not UTF-8 text: {bad} of {lines} lines do not decode.")


def text_lines(path, report):
    """Yields each line of the text file `path` that decodes as UTF-8,
    stripped (blank lines as ""); counts the file and its lines in `report`
    and records the undecodable lines there. Refuses a directory, a binary
    or UTF-16 file, and one whose lines mostly do not decode, naming it:
    silent junk input would train on garbage."""
    if tf.io.gfile.isdir(path):
        raise DataError(f"Input {path} is a directory, not a text file.")
    _refuse_binary(path)
    report.files += 1
    lines_before, bad_before = report.lines, len(report.undecodable)
    with tf.io.gfile.GFile(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            report.lines += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                report.undecodable.append((os.path.basename(path), number))
                continue
            yield line.strip()
    _refuse_mostly_undecodable(
        path, len(report.undecodable) - bad_before, report.lines - lines_before
    )


def read_documents(paths):
    """Returns `(documents, report)`; a document is a list of sentences."""
    report = ReadReport()
    documents = [[]]
    for path in paths:
        found_text = False
        for line in text_lines(path, report):
            if not line:
                if documents[-1]:
                    documents.append([])
                continue
            found_text = True
            documents[-1].append(line)
        if not found_text:
            raise DataError(f"Input file {path} holds no text.")
        if documents[-1]:
            documents.append([])
    documents = [d for d in documents if d]
    report.documents = len(documents)
    report.sentences = sum(len(d) for d in documents)
    return documents, report
