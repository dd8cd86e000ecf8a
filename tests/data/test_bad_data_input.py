"""Bad input to the data tools: one line naming the file, never junk data."""

import builtins
import errno
import hashlib
import json
import os
import shutil

import pytest

from official_tokendrop.data.create_pretraining_data import ConversionOptions, convert
from official_tokendrop.data.vocabulary import build_vocabulary, load_vocabulary
from official_tokendrop.errors import OutputWriteError

from conftest import run_program


def _vocab_cli(capsys, *args):
    """The vocabulary program's status and stderr (run in process)."""
    status = run_program("official_tokendrop.data.vocabulary", *args)
    return status, capsys.readouterr().err


def test_binary_input_is_refused(sample_vocab, tmp_path):
    binary = tmp_path / "ls.bin"
    shutil.copy(shutil.which("ls"), binary)
    with pytest.raises(ValueError, match=rf"Input {binary} is a binary file \(or UTF-16 without a byte-order"):
        convert([str(binary)], sample_vocab.path, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()  # nothing claims the output directory
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 na\xefve\n".encode("latin-1") * 3 + b"plain line\n")
    with pytest.raises(ValueError, match=rf"{latin} is not UTF-8 text: 3 of 4 lines do not decode"):
        build_vocabulary([str(latin)], 100, str(tmp_path / "vocab.txt"))
    with pytest.raises(ValueError, match=rf"{latin} is not UTF-8 text: 3 of 4 lines do not decode"):
        convert([str(latin)], sample_vocab.path, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_duplicate_vocabulary_entries_are_named(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nof\nthe\n")
    with pytest.raises(ValueError, match=r"lists 'the' twice \(entries 6 and 8\)"):
        load_vocabulary(str(vocab))


def test_vocabulary_cli_expands_globs_and_reports_one_line(sample_text, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(sample_text, corpus / "a.txt")
    status, err = _vocab_cli(capsys, f"--input_files={corpus}/*.txt", "--vocab_size=300",
                             f"--output_file={tmp_path / 'v.txt'}")
    assert status == 0, err[-2000:]
    assert len(load_vocabulary(str(tmp_path / "v.txt"))) > 100
    (tmp_path / "empty.txt").write_text("\n\n")
    for files, message in ((str(tmp_path / "missing.txt"), "matches no file"),
                           (str(tmp_path / "empty.txt"), "No text in")):
        status, err = _vocab_cli(capsys, f"--input_files={files}", f"--output_file={tmp_path / 'x.txt'}")
        lines = err.strip().splitlines()
        assert status == 1 and "Traceback" not in err, err
        assert lines[-1].startswith("vocabulary: error: ") and message in lines[-1], lines[-1]


def test_other_corpus_with_the_same_settings_is_refused(sample_text, sample_vocab, tmp_path):
    with open(sample_text) as f:
        lines = f.readlines()
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("".join(lines[: len(lines) // 2]))
    second.write_text("".join(lines[len(lines) // 2:]))
    out = str(tmp_path / "out")
    convert([str(first)], sample_vocab.path, out)
    with open(os.path.join(out, "dataset_config.json")) as f:
        (record,) = json.load(f)["inputs"]
    assert record["name"] == "first.txt" and record["bytes"] == first.stat().st_size
    assert record["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    shards = {name: open(os.path.join(out, name), "rb").read() for name in os.listdir(out)}
    with pytest.raises(ValueError, match=r"different configuration \(input files: first.txt .* != second.txt"):
        convert([str(second)], sample_vocab.path, out)
    assert {name: open(os.path.join(out, name), "rb").read() for name in os.listdir(out)} == shards


def test_accents_survive_from_vocabulary_to_tfrecords(sample_text, tmp_path):
    import keras_hub

    text = tmp_path / "text.txt"
    accented = "The café served a naïve résumé.\n"
    with open(sample_text) as f:
        text.write_text(f.read() + accented * 200)
    vocab = build_vocabulary([str(text)], 1500, str(tmp_path / "vocab.txt"))
    with open(tmp_path / "vocab.txt.json") as f:
        assert json.load(f) == {"lowercase": True, "strip_accents": False}
    # The converter's tokenizer (keras-hub's BertTokenizer) keeps accents too.
    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=list(vocab.tokens), lowercase=True)
    ids = [int(i) for i in tokenizer(accented.strip())]
    assert vocab.id("[UNK]") not in ids
    assert "café" in [vocab.tokens[i] for i in ids]
    summary = convert([str(text)], vocab.path, str(tmp_path / "out"))
    assert summary["unk_fraction"] < 0.01


def test_unk_heavy_conversion_warns(sample_vocab, tmp_path, capsys):
    text = tmp_path / "greek.txt"
    text.write_text("Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.\n" * 20)
    summary = convert([str(text)], sample_vocab.path, str(tmp_path / "out"))
    assert summary["unk_fraction"] > 0.5
    assert "WARNING: " in capsys.readouterr().err


# === A vocabulary that cannot be written ===
def test_vocabulary_over_quota_leaves_no_partial_file(sample_text, tmp_path, monkeypatch):
    """Simulated (runs everywhere): the vocabulary stops half-written, over
    the disk quota; a vocab.txt is never left half-written (the demo data
    and the study reuse one that is there)."""
    from official_tokendrop.data import vocabulary

    output = tmp_path / "vocab.txt"

    def over_quota(path, mode="r", **kwargs):
        if str(path) == f"{output}.incomplete":
            with builtins.open(path, mode, **kwargs) as f:
                f.write("[PAD]\n[UN")
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), str(path))
        return builtins.open(path, mode, **kwargs)

    monkeypatch.setattr(vocabulary, "open", over_quota, raising=False)
    with pytest.raises(OutputWriteError) as raised:
        build_vocabulary([sample_text], 200, str(output), max_lines=2000)
    assert str(raised.value) == f"could not write vocabulary {output}: Disk quota exceeded; nothing was left at {output}"
    assert sorted(os.listdir(tmp_path)) == ["vocab.txt.json"]  # the settings alone name no vocabulary
    output.write_text("an earlier vocabulary\n")
    with pytest.raises(OutputWriteError, match=rf"; {output} was left as it was$"):
        build_vocabulary([sample_text], 200, str(output), max_lines=2000)
    assert output.read_text() == "an earlier vocabulary\n"


def test_vocabulary_on_a_full_disk(sample_text, small_disk):
    disk = small_disk.mount("64k")
    small_disk.fill(disk)
    output = disk / "vocab.txt"
    with pytest.raises(OutputWriteError) as raised:
        build_vocabulary([sample_text], 200, str(output), max_lines=2000)
    assert str(raised.value) == (f"could not write vocabulary settings {output}.json: No space left on device; "
                                 f"nothing was left at {output}.json")
    assert os.listdir(disk) == ["filler"]


def test_vocabularies_other_tools_cannot_read_are_refused(tmp_path):
    """keras-hub and tensorflow-text read vocab.txt themselves, as plain
    UTF-8: a byte-order mark would hide [PAD] from them."""
    tokens = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n"
    cases = [
        ("bom.txt", ("\ufeff" + tokens).encode("utf-8"), r"bom.txt starts with a UTF-8 byte-order mark; keras-hub"),
        ("utf16.txt", tokens.encode("utf-16"), r"utf16.txt starts with a UTF-16 byte-order mark"),
        ("latin1.txt", (tokens + "caf\xe9\n").encode("latin-1"), r"latin1.txt:7: byte 0xe9 is not UTF-8"),
    ]
    for name, content, message in cases:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=message):
            load_vocabulary(str(tmp_path / name))
    with pytest.raises(ValueError, match=rf"^Vocabulary file {tmp_path} is a directory without tokenizer.json or "
                                         r"vocab.txt\.$"):
        load_vocabulary(str(tmp_path))


def test_vocabulary_tool_skips_what_the_converter_skips(tmp_path, caplog):
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes(b"the cat sat on the mat\n" * 50 + "le caf\xe9 \xe9tait na\xefve\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"^vocab_size=5 leaves no room for words"):
        build_vocabulary([str(mixed)], 5, str(tmp_path / "none.txt"))
    assert not (tmp_path / "none.txt").exists()
    vocab = build_vocabulary([str(mixed)], 50, str(tmp_path / "vocab.txt"))
    assert "skipped 1 undecodable line(s): mixed.txt:51" in caplog.text
    assert not [t for t in vocab.tokens if "\ufffd" in t]  # was "caf\ufffd", "na\ufffdve"
    (tmp_path / "directory").mkdir()
    with pytest.raises(ValueError, match=r"^Input .*directory is a directory, not a text file\.$"):
        build_vocabulary([str(tmp_path / "directory")], 50, str(tmp_path / "v.txt"))


def test_refused_conversions_leave_nothing_behind(sample_vocab, tmp_path):
    utf16 = tmp_path / "excel.txt"
    utf16.write_bytes("The café served a naïve résumé.\n".encode("utf-16"))
    with pytest.raises(ValueError, match=rf"^Input {utf16} is UTF-16 text; convert it to UTF-8"):
        convert([str(utf16)], sample_vocab.path, str(tmp_path / "out"))
    text = tmp_path / "text.txt"
    text.write_text("The cat sat on the mat.\n")
    with pytest.raises(ValueError, match=r"masked_lm_prob must lie in \(0, 1\), got 1.5"):
        convert([str(text)], sample_vocab.path, str(tmp_path / "out"), ConversionOptions(masked_lm_prob=1.5))
    # No dataset_config.json claims the directory, so the corrected rerun may use it.
    assert not (tmp_path / "out").exists()
