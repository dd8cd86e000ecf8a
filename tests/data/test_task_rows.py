"""Task files as other tools write them: headers, CSV, quoting, encodings."""

import csv
import io

import pytest

from official_tokendrop.data.task_rows import class_names, read_task_file, write_task_file


def _file(tmp_path, name, content, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return str(path)


def test_a_header_row_is_skipped_with_a_line(tmp_path, capsys):
    path = _file(tmp_path, "h.tsv", "label\ttext\npos\tgood film\nneg\tbad film\n")
    split = read_task_file(path)
    assert (split.labels, split.texts) == (["pos", "neg"], ["good film", "bad film"])
    assert capsys.readouterr().err == f"{path}:1: skipped the header row (label, text).\n"
    # Column names alone (a label that also names a class elsewhere) and a
    # unique label with text-column names are headers too.
    pair = read_task_file(_file(tmp_path, "p.tsv", "Label\tsentence1\tsentence2\n1\ta b\tc d\n0\te f\tg h\n"))
    assert (pair.labels, pair.text_pairs) == (["1", "0"], ["c d", "g h"])
    sentiment = read_task_file(_file(tmp_path, "s.tsv", "sentiment\treview\npos\tgood\nneg\tbad\n"))
    assert sentiment.labels == ["pos", "neg"]
    # One sign only (a class used once, ordinary text) keeps the row.
    rare = read_task_file(_file(tmp_path, "r.tsv", "odd\tan odd one\npos\tgood\nneg\tbad\n"))
    assert rare.labels == ["odd", "pos", "neg"]


def test_headers_that_cannot_be_read_are_refused(tmp_path):
    swapped = _file(tmp_path, "swapped.tsv", "sentence\tlabel\ngood film\tpos\n")
    with pytest.raises(ValueError, match=rf"^{swapped}:1: the header row \(sentence, label\) puts the label in "
                                         r"column 2; task files are label, text\[, text_b\]"):
        read_task_file(swapped)
    indexed = _file(tmp_path, "indexed.tsv", "\tlabel\ttext\n0\tpos\tgood film\n")  # pandas' index column
    with pytest.raises(ValueError, match=r"header row \(, label, text\) puts the label in column 2"):
        read_task_file(indexed)
    only = _file(tmp_path, "only.tsv", "label\ttext\n\n")
    with pytest.raises(ValueError, match=rf"^{only} holds only a header row \(label, text\), no examples\.$"):
        read_task_file(only)
    joined = _file(tmp_path, "joined.tsv", "label\ttext\npos\tgood\nlabel\ttext\nneg\tbad\n")
    with pytest.raises(ValueError, match=rf"^{joined}:3: repeats the header row of line 1"):
        read_task_file(joined)


def test_spreadsheet_and_pandas_exports_read_as_their_writers_meant(tmp_path):
    rows = [("pos", "good film, really"), ("neg", 'a "bad" film'), ("pos", "great\tfilm"), ("neg", "awful\nfilm")]
    expected_texts = [text for _, text in rows]
    for delimiter, name in (("\t", "quoted.tsv"), (",", "commas.csv")):
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter).writerows(rows)  # "\r\n" line ends, as Excel's
        split = read_task_file(_file(tmp_path, name, out.getvalue()))
        assert (split.labels, split.texts) == (["pos", "neg", "pos", "neg"], expected_texts), name
    excel = read_task_file(_file(tmp_path, "excel.txt", "pos\tgood café\r\nneg\tbad film\r\n", "utf-16"))
    assert (excel.labels, excel.texts) == (["pos", "neg"], ["good café", "bad film"])
    # Raw text whose quotes are not csv quoting keeps them (GLUE-style TSVs).
    raw = read_task_file(_file(tmp_path, "raw.tsv", 'pos\t"great movie\nneg\tbad "film" here\n'))
    assert raw.texts == ['"great movie', 'bad "film" here']
    swallowed = read_task_file(_file(tmp_path, "open.tsv", 'pos\t"great movie\nneg\tthey said: bad"\n'))
    assert swallowed.labels == ["pos", "neg"] and swallowed.texts[1] == 'they said: bad"'
    # Labels as pandas writes an integer column with a missing value.
    floats = read_task_file(_file(tmp_path, "floats.tsv", "1.0\tgood\n0.0\tbad\n1\tfine\n"))
    assert floats.labels == ["1", "0", "1"]


def test_what_cannot_be_read_is_one_line_naming_file_and_line(tmp_path):
    cases = [
        ("cp1252.tsv", "pos\tgood\nneg\tcaf\xe9\n".encode("cp1252"),
         r"cp1252.tsv:2: byte 0xe9 is not UTF-8 \(a cp1252 or latin-1 export\?\); save the file as UTF-8\."),
        ("nobom.tsv", "pos\tgood\n".encode("utf-16-le"),
         r"nobom.tsv is a binary file \(or UTF-16 without a byte-order mark\), not text\."),
        ("empty_text.tsv", b"pos\tgood\nneg\t  \n", r"empty_text.tsv:2: column 2 \(text\) is empty\."),
        ("trailing_tab.tsv", b"pos\tgood\t\nneg\tbad\t\n", r"trailing_tab.tsv:1: column 3 \(text_b\) is empty\."),
        ("commas.csv", b"pos,good, really, truly\n", r"commas.csv:1: expected 2 or 3 comma-separated columns "
                                                    r"\(label, text\[, text_b\]\); found 4; the first row has no tab, "
                                                    r"so it is read as CSV\."),
        ("swapped.tsv", b"good film\tpos\nbad film\tneg\ngreat film\tpos\n",
         r"swapped.tsv: 3 distinct labels but 2 distinct text values; is the label the first column\?"),
    ]
    for name, content, message in cases:
        with pytest.raises(ValueError, match=message):
            read_task_file(_file(tmp_path, name, content))
    with pytest.raises(ValueError, match=rf"^Task file {tmp_path} is a directory, not a file\.$"):
        read_task_file(str(tmp_path))


def test_integer_classes_are_ordered_by_value():
    assert class_names(["10", "2", "0", "1", "2"]) == ["0", "1", "2", "10"]
    assert class_names(["neg", "pos", "-1", "1"]) == ["-1", "1", "neg", "pos"]


def test_written_rows_read_back_unchanged(tmp_path):
    split = read_task_file(_file(tmp_path, "in.tsv", 'a\t"x\ty"\tsay "hi"\nb\t"line\nbreak"\tz\n'))
    assert split.texts == ["x\ty", "line\nbreak"]
    write_task_file(str(tmp_path / "out.tsv"), split.subset([1, 0]))
    back = read_task_file(str(tmp_path / "out.tsv"))
    assert (back.labels, back.texts, back.text_pairs) == (["b", "a"], ["line\nbreak", "x\ty"], ["z", 'say "hi"'])
