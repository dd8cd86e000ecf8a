"""Shared behaviour of the command-line programs.

Imported by each program before TensorFlow loads: TensorFlow's C++ info
and warning logs are off unless TF_CPP_MIN_LOG_LEVEL says otherwise.
"""

import functools
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Errors that mean bad input or configuration, not a bug: one line, no trace.
USER_ERRORS = (ValueError, KeyError, LookupError, FileNotFoundError, PermissionError, IsADirectoryError)


def one_line_errors(program, extra=()):
    """Wraps an absl `main(argv)`: user errors print one line and return 1."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv):
            try:
                return main(argv) or 0
            except USER_ERRORS + tuple(extra) as error:
                message = error.args[0] if isinstance(error, KeyError) and error.args else error
                print(f"{program}: error: {message}", file=sys.stderr)
                return 1

        return run

    return wrap
