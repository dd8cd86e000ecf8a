"""Helpers shared by layers, models and the run: replica reductions, input checks, progress, synthetic batches, writing outputs."""
