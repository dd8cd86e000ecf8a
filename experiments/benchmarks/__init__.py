"""Benchmarks: step time against peer BERTs, the trainer's overhead, the
matmul ceiling of a step, the data pipeline. Each is a script; run from the
repository root, e.g. `.venv/bin/python experiments/benchmarks/step_time.py`."""
