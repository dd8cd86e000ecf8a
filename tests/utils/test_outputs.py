"""Failed writes as one line; outputs whole or not at all."""

import errno
import os

import pytest
import tensorflow as tf

from official_tokendrop.errors import DataError, OutputWriteError
from official_tokendrop.utils.outputs import whole, write_failure, writing


@pytest.mark.parametrize("error, reason", [
    (OSError(errno.ENOSPC, "No space left on device", "/d/x"), "No space left on device"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "Disk quota exceeded"),
    (OSError(errno.EROFS, "Read-only file system"), "Read-only file system"),
    (PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
    (tf.errors.ResourceExhaustedError(None, None, "/d/x.tfrecord; No space left on device"), "No space left on device"),
    (tf.errors.PermissionDeniedError(None, None, "/d/events; Read-only file system"), "Read-only file system"),
    (tf.errors.PermissionDeniedError(None, None, "403 storage.objects.create denied\nmore"),
     "403 storage.objects.create denied"),
    # safetensors' and h5py's own types carry the OS's words in the message.
    (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"),
     "No space left on device"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory"), None),
    (ValueError("a bug"), None),
    (DataError("Permission denied is our own message"), None),
])
def test_which_errors_are_write_failures(error, reason):
    assert write_failure(error) == reason


def test_writing_names_what_and_where_and_lets_other_errors_through():
    with pytest.raises(OutputWriteError) as raised:
        with writing("checkpoint", "/d/ckpt-30", lambda: "; what is left"):
            raise tf.errors.ResourceExhaustedError(None, None, "/d/ckpt-30_temp/part; No space left on device")
    assert str(raised.value) == "could not write checkpoint /d/ckpt-30: No space left on device; what is left"
    with pytest.raises(KeyError):
        with writing("checkpoint", "/d/ckpt-30", lambda: pytest.fail("undo ran for a bug")):
            raise KeyError("bug")


def test_whole_appears_whole_or_not_at_all(tmp_path):
    output = tmp_path / "out"
    full = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OutputWriteError, match=rf"^could not write preset {output}: No space left on device; "
                                               rf"nothing was left at {output}$"):
        with whole("preset", str(output), directory=True):
            (tmp_path / "out.incomplete" / "weights").write_bytes(b"half")
            raise full
    assert os.listdir(tmp_path) == []
    with whole("preset", str(output), directory=True):
        (tmp_path / "out.incomplete" / "weights").write_bytes(b"old")
    with pytest.raises(OutputWriteError, match=rf"; {output} was left as it was$"):
        with whole("preset", str(output), directory=True):
            (tmp_path / "out.incomplete" / "weights").write_bytes(b"new, half")
            raise full
    assert os.listdir(tmp_path) == ["out"] and (output / "weights").read_bytes() == b"old"
    with pytest.raises(ValueError, match="a bug"):  # any failure leaves no temporary behind
        with whole("preset", str(output), directory=True):
            raise ValueError("a bug")
    assert os.listdir(tmp_path) == ["out"]
    with whole("preset", str(output), directory=True) as directory:  # replaces the old one
        assert directory == f"{output}.incomplete"
        (tmp_path / "out.incomplete" / "new").write_bytes(b"new")
    assert os.listdir(output) == ["new"]


def test_whole_on_a_full_disk(small_disk):
    disk = small_disk.mount("64k")
    path = str(disk / "big.bin")
    with pytest.raises(OutputWriteError) as raised:
        with whole("file", path) as temporary, open(temporary, "wb") as f:
            f.write(b"\0" * (1 << 20))
    assert str(raised.value) == f"could not write file {path}: No space left on device; nothing was left at {path}"
    assert os.listdir(disk) == []
