"""Experiments on the package: the study (`experiments.study`), benchmarks,
configs and demos; a package so that tests import them by name."""
