"""The study's work dir: each stage's log, the record of the commands that
compute its numbers, and the study's progress lines."""

import contextlib
import logging
import os
import subprocess
import sys
import time

from official_tokendrop.errors import ConfigurationError, TokenDropError

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


class StudyError(ConfigurationError):
    """Bad input to the study, or a stage that failed: reported as one line."""


def call_logged(function, log):
    """Calls `function()` with its output in the open file `log`, as a
    program of the project would run it: one of the project's errors is
    the log's last line and the result is 1; else 0."""
    # absl's first log call with no root handler installs one on the
    # sys.stderr of that moment, which here is `log`, closed after the
    # stage: a handler of our own for the stage's length prevents that.
    handler = logging.StreamHandler(log)
    logging.root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            function()
    except TokenDropError as error:
        print(f"error: {error}", file=log)
        return 1
    finally:
        logging.root.removeHandler(handler)
    return 0


class Stages:
    """Runs the study's stages in its work dir.

    Args:
        work: str, the work dir (model dirs, data, logs); created.
        python: str, the interpreter of the stages' programs.

    Example:
    >>> stages = Stages("/tmp/study_x")
    >>> stages.run(["echo", "hi"], "echo.log")  # doctest: +SKIP
    """

    def __init__(self, work, python=sys.executable):
        self.work, self.python = work, python
        self.start = time.time()
        os.makedirs(work, exist_ok=True)

    @property
    def commands_log(self):
        # Kept in the work dir, so a rerun that reuses finished stages still
        # reports every command that produced its numbers.
        return os.path.join(self.work, "commands.log")

    def log(self, message):
        print(f"[{(time.time() - self.start) / 60:5.1f} min] {message}", flush=True)

    def record(self, line):
        """Adds `line` to the record of what computed the study's numbers."""
        with open(self.commands_log, "a") as f:
            f.write(line + "\n")

    def commands(self):
        """Every command recorded in the work dir, as text."""
        if not os.path.exists(self.commands_log):
            return ""
        with open(self.commands_log) as f:
            return f.read()

    def program(self, module, *flags):
        """The command line of the project's program `module`."""
        return [self.python, "-m", module, *flags]

    def run(self, command, log_name, here=None):
        """Runs the program `command`, its output in the work dir's
        `log_name`; or, given `here`, calls `here()` in this process: what
        `command` computes, without a program's start-up (seconds each, for
        the data stages). Returns the seconds it took."""
        self.record(" ".join(command))
        log = os.path.join(self.work, log_name)
        start = time.time()
        with open(log, "w") as f:
            if here is None:
                code = subprocess.run(command, env=ENV, stdout=f, stderr=subprocess.STDOUT).returncode
            else:
                code = call_logged(here, f)
        if code:
            with open(log) as f:
                tail = f.read().strip().splitlines()[-1:] or [""]
            raise StudyError(f"step failed ({code}): {' '.join(command[:3])} ...: {tail[0]} (log: {log})")
        return time.time() - start
