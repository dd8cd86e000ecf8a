"""Gathering kept/dropped tokens into static shapes and putting them back."""

import keras
from keras import ops


def _gather_positions(x, indices):
    """`x[b, indices[b, i], ...]` for x of rank >= 2."""
    expanded = indices
    for _ in range(len(x.shape) - 2):
        expanded = ops.expand_dims(expanded, -1)
    return ops.take_along_axis(x, expanded, axis=1)


@keras.saving.register_keras_serializable(package="official_tokendrop")
class SplitTokens(keras.layers.Layer):
    """`(x[:, keep], x[:, drop])` for x [B, S, ...], e.g. states or masks."""

    def call(self, x, keep_indices, drop_indices):
        return (
            _gather_positions(x, keep_indices),
            _gather_positions(x, drop_indices),
        )

    def compute_output_spec(self, x, keep_indices, drop_indices):
        return tuple(
            keras.KerasTensor(tuple(idx.shape) + tuple(x.shape[2:]), x.dtype)
            for idx in (keep_indices, drop_indices)
        )


@keras.saving.register_keras_serializable(package="official_tokendrop")
class MergeTokens(keras.layers.Layer):
    """Inverse of `SplitTokens`: puts kept and dropped tokens back in place.

    Exact (a permutation, no arithmetic), provided `keep_indices` and
    `drop_indices` together hold every position once, as `TokenSelection`
    guarantees.
    """

    def call(self, kept, dropped, keep_indices, drop_indices):
        stacked = ops.concatenate([kept, dropped], axis=1)
        origin = ops.concatenate([keep_indices, drop_indices], axis=1)
        return _gather_positions(stacked, ops.argsort(origin, axis=-1))

    def compute_output_spec(self, kept, dropped, keep_indices, drop_indices):
        length = None
        if kept.shape[1] is not None and dropped.shape[1] is not None:
            length = kept.shape[1] + dropped.shape[1]
        return keras.KerasTensor(
            (kept.shape[0], length) + tuple(kept.shape[2:]), kept.dtype
        )
