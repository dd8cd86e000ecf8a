"""Pretraining data: vocabulary, TFRecord conversion, reading."""
