"""Checks on integer inputs that XLA cannot raise on.

Out-of-range indices are clamped silently by XLA gathers. When values are
concrete (eager calls) we raise; inside compiled graphs we turn the affected
examples' outputs into NaN so the loss shows the problem instead of a silent
wrong result.
"""

import numpy as np
import keras
from keras import ops

from official_tokendrop.errors import InputError


def concrete_value(x):
    """Returns `x` as a NumPy array if it has a value now, else None."""
    if isinstance(x, (np.ndarray, np.generic, list, tuple, int)):
        return np.asarray(x)
    if isinstance(x, keras.KerasTensor):
        return None
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly() or not hasattr(x, "numpy"):
            return None
        return x.numpy()
    if backend == "jax":
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
    return ops.convert_to_numpy(x)


def check_range(name, values, upper):
    """Raises if concrete `values` fall outside [0, upper).

    Returns a per-example bool tensor [B] that is True where every value of
    the example is in range, for use with `poison_invalid`.
    """
    concrete = concrete_value(values)
    if concrete is not None:
        bad = np.argwhere((concrete < 0) | (concrete >= upper))
        if bad.size:
            index = tuple(int(i) for i in bad[0])
            raise InputError(
                f"`{name}` must lie in [0, {upper}); found "
                f"{int(concrete[index])} at index {index} "
                f"({len(bad)} value(s) out of range)."
            )
    in_range = ops.logical_and(values >= 0, values < upper)
    while len(in_range.shape) > 1:
        in_range = ops.all(in_range, axis=-1)
    return in_range


def poison_invalid(x, valid):
    """Sets every value of examples whose `valid` flag is False to NaN."""
    nan = ops.cast(float("nan"), x.dtype)
    shape = [-1] + [1] * (len(x.shape) - 1)
    return ops.where(ops.reshape(valid, shape), x, nan)
