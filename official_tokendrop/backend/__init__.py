"""The pretrainer's train and test steps, one module per Keras backend (as
`keras/src/backend/*/trainer.py`): the model computes, these run a step."""

import keras


def steps():
    """The step module of the active Keras backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from official_tokendrop.backend import tensorflow

        return tensorflow
    if backend == "jax":
        from official_tokendrop.backend import jax

        return jax
    raise NotImplementedError(
        f"BertPretrainer trains on the TensorFlow and JAX backends; got {backend!r}."
    )
