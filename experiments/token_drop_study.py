"""Token dropping against its controls, at a scale where the models learn.

The study is the package `experiments/study/` (its docstring says what it
measures and writes; `--help` lists the arms). This script runs it:

    .venv/bin/python experiments/token_drop_study.py --name=study_6x128

and `python -m experiments.study.report <results dir>` re-renders a
results directory's results.md and plots from its results.json.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the study reads TFRecords and benchmarks in process
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

from experiments.study.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], sys.argv[0]))
