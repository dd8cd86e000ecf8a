"""Fine-tuning examples: the `label, text[, text_b]` rows of a task file.

The one reader of task files (fine-tuning, the study). Rows are
tab-separated, or comma-separated when the first row holds no tab (a
spreadsheet's or pandas' CSV). Fields quoted the way the csv module and
pandas write them (a tab, a line break or a doubled "" inside quotes) are
unquoted; a file that does not parse that way (a field that opens a
quote and never closes it, as raw TSVs such as GLUE's have) is read with
its quotes as plain characters. Encodings: `text_files.decode`.

A first row that names the columns is skipped with a line on stderr, not
refused: pandas, spreadsheets and dataset hubs write one by default and it
is never an example, so refusing would only make users edit the file. Two
of three signs must agree (a label-column name, text-column names, a label
no other row uses), so a real first example is not dropped, and the line
names the row so a wrong call is seen. A header that puts the label
elsewhere (`sentence, label`, or pandas' unnamed index column first) is
refused: reading it would make every text a class.
"""

import csv
import dataclasses
import io
import re
import sys

from official_tokendrop.data import text_files
from official_tokendrop.errors import DataError

COLUMNS = "label, text[, text_b]"
LABEL_NAMES = frozenset({"label", "labels", "class", "category", "target", "y", "gold_label", "tag"})
TEXT_NAMES = frozenset({
    "text", "texts", "text_a", "text_b", "sentence", "sentence1", "sentence2", "sentence_a",
    "sentence_b", "question", "question1", "question2", "premise", "hypothesis", "passage",
    "review", "document", "content", "input", "x",
})
_INTEGER = re.compile(r"-?\d+")
_WHOLE_FLOAT = re.compile(r"-?\d+\.0+")


@dataclasses.dataclass
class Split:
    path: str
    labels: list
    texts: list
    text_pairs: list  # empty for single-sentence tasks

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        return Split(self.path, [self.labels[i] for i in indices], [self.texts[i] for i in indices],
                     [self.text_pairs[i] for i in indices] if self.text_pairs else [])


def class_names(labels):
    """The distinct labels in class-id order: integers by value (labels 0..n-1
    are class ids 0..n-1, not 0, 1, 10, 2, ...), then the rest alphabetically."""
    return sorted(set(labels), key=lambda l: (0, int(l), "") if _INTEGER.fullmatch(l) else (1, 0, l))


def _label(field):
    label = field.strip()  # "pos " and "pos" are one class
    # pandas writes an integer column that has a missing value as floats:
    # "1.0" is the class "1" of the file's other splits.
    return label[: label.index(".")] if _WHOLE_FLOAT.fullmatch(label) else label


def _rows(text, delimiter, quoting):
    """(first line number, fields) of each row that is not blank."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    rows, line = [], 1
    for fields in reader:
        if quoting != csv.QUOTE_NONE and any(delimiter in f and ("\n" in f or "\r" in f) for f in fields):
            # A quote left open in raw text swallowed a row boundary (a line
            # break and then a delimiter): not a quoted file after all.
            raise csv.Error("a quoted field spans rows")
        if any(f.strip() for f in fields):
            rows.append((line, fields))
        line = reader.line_num + 1
    return rows


def _parse(path, text):
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if "\t" in first else ","
    try:
        rows = _rows(text, delimiter, csv.QUOTE_MINIMAL)
    except csv.Error:
        rows = _rows(text, delimiter, csv.QUOTE_NONE)
    return rows, delimiter


def _header(path, rows):
    """The first row if it names the columns (skipped), else None."""
    line, fields = rows[0]
    names = [f.strip().lower() for f in fields]
    misplaced = [i for i, name in enumerate(names[1:], start=2) if name in LABEL_NAMES]
    if misplaced and all(not n or n in LABEL_NAMES | TEXT_NAMES for n in names):
        raise DataError(f"{path}:{line}: the header row ({', '.join(fields)}) puts the label in column "
                        f"{misplaced[0]}; task files are {COLUMNS} (pandas: to_csv(..., index=False) "
                        "with the label column first).")
    others = {_label(f[0]) for _, f in rows[1:]}
    signs = (names[0] in LABEL_NAMES, len(names) > 1 and all(n in TEXT_NAMES for n in names[1:]),
             _label(fields[0]) not in others)
    return fields if sum(signs) >= 2 else None


def _check_label_column(split):
    """A text column with fewer distinct values than the labels means the
    columns are in another order: every text would become a class."""
    classes = len(set(split.labels))
    for column, values in (("text", split.texts), ("text_b", split.text_pairs)):
        if values and len(set(values)) < classes:
            raise DataError(f"{split.path}: {classes} distinct labels but {len(set(values))} distinct "
                            f"{column} values; is the label the first column? ({COLUMNS})")


def read_task_file(path):
    """The examples of one task file; errors name the file and line."""
    text = text_files.decode(path, text_files.read_bytes(path, "Task file"))
    rows, delimiter = _parse(path, text)
    if not rows:
        raise DataError(f"{path} holds no examples.")
    header, header_line = _header(path, rows), rows[0][0]
    if header is not None:
        print(f"{path}:{header_line}: skipped the header row ({', '.join(header)}).", file=sys.stderr)
        rows = rows[1:]
        if not rows:
            raise DataError(f"{path} holds only a header row ({', '.join(header)}), no examples.")
    separated, note = ("tab", "") if delimiter == "\t" else (
        "comma", "; the first row has no tab, so it is read as CSV")
    labels, texts, pairs, width = [], [], [], None
    for line, fields in rows:
        if header is not None and [f.strip() for f in fields] == [f.strip() for f in header]:
            raise DataError(f"{path}:{line}: repeats the header row of line {header_line} "
                            "(files joined together?).")
        if len(fields) not in (2, 3) or width not in (None, len(fields)):
            raise DataError(f"{path}:{line}: expected {width or '2 or 3'} {separated}-separated columns "
                            f"({COLUMNS}); found {len(fields)}{note}.")
        width = len(fields)
        label = _label(fields[0])
        if not label:
            raise DataError(f"{path}:{line}: the label is empty.")
        for number, (column, value) in enumerate(zip(("text", "text_b"), fields[1:]), start=2):
            if not value.strip():
                raise DataError(f"{path}:{line}: column {number} ({column}) is empty.")
        labels.append(label)
        texts.append(fields[1])
        if width == 3:
            pairs.append(fields[2])
    split = Split(path, labels, texts, pairs)
    _check_label_column(split)
    return split


def write_task_file(path, split):
    """Writes `split` so that `read_task_file` reads it back unchanged."""
    columns = (split.labels, split.texts, split.text_pairs) if split.text_pairs else (split.labels, split.texts)
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(zip(*columns))
