"""The two forms of BERT's GELU, kept serializable by name.

Google's BERT, Model Garden (`tf_utils.get_activation("gelu")`) and
keras-hub's `BertBackbone` compute GELU in its tanh form; transformers'
`hidden_act: "gelu"` (e.g. sentence-transformers' MiniLM) is the exact
(erf) form. `HIDDEN_ACTIVATIONS` names them as the encoder's
`hidden_activation` (Model Garden's key) takes them: "gelu" keeps Model
Garden's meaning.
"""

import keras


@keras.saving.register_keras_serializable(package="official_tokendrop")
def gelu_approximate(x):
    """The tanh GELU that keras-hub's `BertBackbone` uses in its blocks."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="official_tokendrop")
def gelu_exact(x):
    """The exact GELU, `x * Phi(x)` with the normal CDF through erf."""
    return keras.activations.gelu(x, approximate=False)


HIDDEN_ACTIVATIONS = {"gelu": gelu_approximate, "gelu_exact": gelu_exact}
