"""Shared behaviour of the command-line programs.

Imported by each program before TensorFlow loads: TensorFlow's C++ info
and warning logs are off unless TF_CPP_MIN_LOG_LEVEL says otherwise.
"""

import functools
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from official_tokendrop.errors import TokenDropError  # noqa: E402


def one_line_errors(program):
    """Wraps an absl `main(argv)`: the project's errors (a user's mistake,
    `errors.TokenDropError`) print one line and return 1; any other
    exception is a bug and keeps its traceback."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv):
            try:
                return main(argv) or 0
            except TokenDropError as error:
                message = error.args[0] if isinstance(error, KeyError) and error.args else error
                print(f"{program}: error: {message}", file=sys.stderr)
                return 1

        return run

    return wrap
