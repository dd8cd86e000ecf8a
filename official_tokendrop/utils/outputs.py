"""Writing outputs: a failed write as one line, and outputs that appear
whole or not at all.

A full disk, a quota, a read-only file system or a refused permission ends
a program with one line naming what was being written and where
(`errors.OutputWriteError`), after what was partly written is removed, so
nothing half-written is taken for a finished checkpoint, export, shard or
vocabulary.
"""

import contextlib
import errno
import os
import shutil

import tensorflow as tf

from official_tokendrop.errors import OutputWriteError, TokenDropError

WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def write_failure(error):
    """The operating system's words for why a write failed (no space, over
    quota, read-only, no permission), or None if `error` is no such failure."""
    if isinstance(error, TokenDropError):
        return None
    if getattr(error, "errno", None) in WRITE_ERRNOS:
        return os.strerror(error.errno)
    # TensorFlow, h5py and safetensors raise their own types, with the OS's
    # words in the message.
    text = str(error)
    for number in WRITE_ERRNOS:
        if os.strerror(number) in text:
            return os.strerror(number)
    if isinstance(error, (tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError)):
        return text.splitlines()[0] if text else type(error).__name__
    return None


@contextlib.contextmanager
def writing(what, path, undo=None):
    """A failed write inside the block ends as one line, "could not write
    `what` `path`: <reason>". `undo`, if given, runs first: it removes what
    was partly written and may return what the line adds about what is left."""
    try:
        yield
    except Exception as error:
        reason = write_failure(error)
        if reason is None:
            raise
        note = (undo() if undo else None) or ""
        raise OutputWriteError(f"could not write {what} {path}: {reason}{note}") from None


def _remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def whole(what, path, directory=False):
    """Yields a temporary name beside `path` (a directory, created, if
    `directory`) to write `what` to; once the block has finished it replaces
    `path`, so `path` appears whole or not at all. A failed block removes
    the temporary and leaves `path` as it was."""
    temporary = path.rstrip("/") + ".incomplete"

    def left():
        return f"; {path} was left as it was" if os.path.lexists(path) else f"; nothing was left at {path}"

    with writing(what, path, left):
        _remove(temporary)  # an interrupted earlier attempt's
        if directory:
            os.makedirs(temporary)
        try:
            yield temporary
        except BaseException:
            _remove(temporary)
            raise
        if os.path.isdir(path):  # an export being overwritten
            shutil.rmtree(path)
        os.replace(temporary, path)
