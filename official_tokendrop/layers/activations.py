"""Activations shared with keras-hub's BERT, kept serializable by name."""

import keras


@keras.saving.register_keras_serializable(package="official_tokendrop")
def gelu_approximate(x):
    """The tanh GELU that keras-hub's `BertBackbone` uses in its blocks."""
    return keras.activations.gelu(x, approximate=True)
