"""Reading text files as documents: one sentence per line, blank-line breaks.

This is the input format of Model Garden's `create_pretraining_data`.
Undecodable lines are skipped and counted, never guessed at; the report
names each file and line.
"""

import dataclasses
import os

import tensorflow as tf


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


def check_text_file(path, probe_bytes=8000):
    """Refuses a file that is not text, naming it: a NUL byte in its first
    `probe_bytes` (git's test for binary files) or more than half of its
    lines not UTF-8. Silent junk input would train on garbage."""
    with tf.io.gfile.GFile(path, "rb") as f:
        head = f.read(probe_bytes)
        if b"\x00" in head:
            raise ValueError(f"Input {path} is a binary file, not UTF-8 text.")
        f.seek(0)
        lines = bad = 0
        for raw in f:
            lines += 1
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                bad += 1
    if lines and bad * 2 > lines:
        raise ValueError(f"Input {path} is not UTF-8 text: {bad} of {lines} lines do not decode.")


def read_documents(paths):
    """Returns `(documents, report)`; a document is a list of sentences."""
    report = ReadReport()
    documents = [[]]
    for path in paths:
        if tf.io.gfile.isdir(path):
            raise IsADirectoryError(f"Input {path} is a directory, not a text file.")
        check_text_file(path)
        report.files += 1
        found_text = False
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
        if not found_text:
            raise ValueError(f"Input file {path} holds no text.")
        if documents[-1]:
            documents.append([])
    documents = [d for d in documents if d]
    report.documents = len(documents)
    report.sentences = sum(len(d) for d in documents)
    return documents, report
