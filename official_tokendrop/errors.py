"""The errors a user's mistake causes.

Each program prints these as one line and exits with status 1
(`cli.one_line_errors`); any other exception is a bug and keeps its
traceback. Each also derives from the built-in error it refines, so code
that catches `ValueError` or `FileNotFoundError` keeps working.
"""


class TokenDropError(Exception):
    """Base of every error a user can fix without changing the code."""


class ConfigurationError(TokenDropError, ValueError):
    """A hyperparameter, flag or experiment key is wrong, alone or with another."""


class DataError(TokenDropError, ValueError):
    """A file's content is wrong: corpus, vocabulary, TFRecords, task rows,
    checkpoint or preset."""


class MissingFileError(DataError, FileNotFoundError):
    """A named file, pattern or checkpoint is not there."""


class OutputExistsError(TokenDropError, FileExistsError):
    """An output would replace something that is already there."""


class OutputWriteError(TokenDropError, OSError):
    """An output could not be written: the disk is full or over quota, or the
    file system is read-only or refuses us."""


class InputError(TokenDropError, ValueError):
    """A layer or model was called with wrong inputs."""


class MissingInputError(InputError, KeyError):
    """A layer or model's input dict lacks a key."""


class InputTypeError(InputError, TypeError):
    """A layer or model was called with the wrong kind of input."""


class RunError(TokenDropError, RuntimeError):
    """The run cannot go on: its model_dir is in use, the loss diverged, a
    worker stopped."""
