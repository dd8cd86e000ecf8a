"""The project's error classes and the programs' one-line wrapper."""

import pytest

from official_tokendrop import errors
from official_tokendrop.cli import one_line_errors


@pytest.mark.parametrize("error", [
    errors.ConfigurationError("task.train_data.seq_length=0 must be positive."),
    errors.MissingFileError("Vocabulary file /none/vocab.txt does not exist."),
    errors.MissingInputError("TokenDropBertEncoder inputs lack ['input_mask']."),
])
def test_user_errors_print_one_line_and_return_1(error, capsys):
    @one_line_errors("prog")
    def main(argv):
        raise error

    assert main([]) == 1
    # KeyError's own str() would quote the message; the line shows it bare.
    assert capsys.readouterr().err == f"prog: error: {error.args[0]}\n"


def test_a_bug_keeps_its_traceback(capsys):
    @one_line_errors("prog")
    def main(argv):
        return {}["missing"]  # a genuine bug: a plain KeyError

    with pytest.raises(KeyError):
        main([])
    assert capsys.readouterr().err == ""


def test_each_error_is_also_the_builtin_it_refines():
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.MissingFileError, FileNotFoundError) and issubclass(errors.MissingFileError, ValueError)
    assert issubclass(errors.MissingInputError, KeyError)
    assert issubclass(errors.InputTypeError, TypeError)
    assert issubclass(errors.OutputExistsError, FileExistsError)
    assert issubclass(errors.OutputWriteError, OSError)
    assert issubclass(errors.RunError, RuntimeError)
    for name in ("ConfigurationError", "DataError", "MissingFileError", "OutputExistsError", "OutputWriteError",
                 "InputError", "MissingInputError", "InputTypeError", "RunError"):
        assert issubclass(getattr(errors, name), errors.TokenDropError)
