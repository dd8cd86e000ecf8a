"""Expanding user-given file lists and globs."""

import tensorflow as tf

from official_tokendrop.errors import ConfigurationError, MissingFileError


def expand_input_files(patterns):
    """Expands comma-separated lists and globs; every pattern must match."""
    if isinstance(patterns, str):
        patterns = patterns.split(",")
    files = []
    for pattern in (p.strip() for p in patterns):
        if not pattern:
            continue
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise MissingFileError(f"Input {pattern!r} matches no file.")
        files.extend(matched)
    if not files:
        raise ConfigurationError("No input files given.")
    return files
