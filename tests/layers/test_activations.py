"""BERT's two GELU forms against NumPy references, and their names."""

import math

import keras
import numpy as np

from official_tokendrop.layers import HIDDEN_ACTIVATIONS, TransformerBlock, gelu_approximate, gelu_exact

X = np.concatenate([np.linspace(-6.0, 6.0, 241), np.random.default_rng(0).normal(0, 3, 200)]).astype("float32")


def _erf_gelu(x):
    return np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.astype("float64")])


def _tanh_gelu(x):
    x = x.astype("float64")
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def test_gelu_forms_equal_their_numpy_references():
    np.testing.assert_allclose(np.asarray(gelu_exact(X)), _erf_gelu(X), atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(gelu_approximate(X)), _tanh_gelu(X), atol=1e-6, rtol=1e-6)
    # The two forms differ by at most ~4.7e-4 (near |x| = 2.7), the size
    # that makes a tanh model of erf weights drift layer by layer.
    difference = np.max(np.abs(_erf_gelu(X) - _tanh_gelu(X)))
    assert 4e-4 < difference < 5e-4, difference


def test_names_keep_model_gardens_meaning_and_round_trip():
    assert HIDDEN_ACTIVATIONS == {"gelu": gelu_approximate, "gelu_exact": gelu_exact}
    block = TransformerBlock(num_heads=2, intermediate_dim=8, activation=gelu_exact)
    config = block.get_config()
    assert keras.activations.get(config["activation"]) is gelu_exact
    assert TransformerBlock.from_config(config).activation is gelu_exact
