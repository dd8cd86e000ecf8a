"""The study's stages: logs, the record of commands, a failed stage as one line."""

import logging

import pytest

from experiments.study.stages import Stages, StudyError, call_logged
from official_tokendrop.errors import DataError


def test_a_stage_log_holds_its_logging_and_nothing_after(tmp_path):
    # absl would otherwise bind a root handler to the stage's redirected
    # stderr (its log, closed afterwards): a logging error on the next warning.
    from absl import logging as absl_logging

    before = list(logging.root.handlers)
    with open(tmp_path / "stage.log", "w") as log:
        assert call_logged(lambda: absl_logging.warning("inside the stage"), log) == 0
    assert logging.root.handlers == before
    # Ours writes the message last; a handler absl installed before (a
    # program run earlier in this process) writes it first, in its format.
    assert (tmp_path / "stage.log").read_text().splitlines()[-1] == "inside the stage"


def test_a_stage_run_here_is_recorded_and_its_error_is_one_line(tmp_path):
    stages = Stages(str(tmp_path / "work"))
    stages.run(stages.program("official_tokendrop.data.vocabulary", "--vocab_size=9"), "vocab.log",
               here=lambda: print("learned"))
    assert (tmp_path / "work" / "vocab.log").read_text() == "learned\n"

    def refused():
        print("reading")
        raise DataError("Input x.txt is a directory, not a text file.")

    with pytest.raises(StudyError) as raised:
        stages.run(["python", "-m", "official_tokendrop.data.create_pretraining_data", "--x=1"], "convert.log",
                   here=refused)
    log = tmp_path / "work" / "convert.log"
    assert str(raised.value) == ("step failed (1): python -m official_tokendrop.data.create_pretraining_data ...: "
                                 f"error: Input x.txt is a directory, not a text file. (log: {log})")
    assert log.read_text() == "reading\nerror: Input x.txt is a directory, not a text file.\n"
    # Both commands are recorded, as commands.txt will give them.
    assert stages.commands() == (f"{stages.python} -m official_tokendrop.data.vocabulary --vocab_size=9\n"
                                 "python -m official_tokendrop.data.create_pretraining_data --x=1\n")
