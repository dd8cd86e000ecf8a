"""Per-example choice of the tokens that go through the dropping layers."""

import keras
from keras import ops

from official_tokendrop.errors import ConfigurationError, InputError


@keras.saving.register_keras_serializable(package="official_tokendrop")
class TokenSelection(keras.layers.Layer):
    """Splits the positions of each example into kept and dropped indices.

    Keeps the `keep_k` positions of highest score, plus `random_keep_k`
    positions drawn uniformly (in training) from the remaining eligible ones.

    Ties are broken toward the earlier position: among equal scores the
    smaller index is kept. Both outputs are sorted ascending, so the kept
    tokens keep their original relative order and the two index sets are
    always exact complements of each other.

    Call args:
        scores: float [B, S], higher is more important.
        eligible: optional bool [B, S]; positions that may be chosen at
            random. Defaults to all.
        training: random keeps are drawn only in training; otherwise the
            random slots go to the next highest scores.

    Returns:
        `(keep_indices [B, K], drop_indices [B, S - K])`, int32, with
        `K = keep_k + random_keep_k`.
    """

    def __init__(self, keep_k, random_keep_k=0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if keep_k is None or int(keep_k) < 1:
            raise ConfigurationError(f"`token_keep_k` must be >= 1, got {keep_k}.")
        if int(random_keep_k) < 0:
            raise ConfigurationError(
                f"`random_keep_k` must be >= 0, got {random_keep_k}."
            )
        self.keep_k = int(keep_k)
        self.random_keep_k = int(random_keep_k)
        self.seed = seed
        self.seed_generator = (
            keras.random.SeedGenerator(seed) if self.random_keep_k else None
        )
        self.built = True

    @property
    def num_kept(self):
        return self.keep_k + self.random_keep_k

    def call(self, scores, eligible=None, training=None):
        seq_length = scores.shape[-1]
        if seq_length is None:
            raise InputError(
                "Token selection needs a static sequence length; got "
                f"scores of shape {scores.shape}."
            )
        if self.num_kept > seq_length:
            raise InputError(
                f"`token_keep_k` ({self.keep_k}) + `random_keep_k` "
                f"({self.random_keep_k}) exceeds the sequence length "
                f"{seq_length}."
            )
        # A full descending top-k is a sort whose ties keep index order.
        order = ops.top_k(scores, seq_length)[1]
        if self.random_keep_k and training:
            rank = ops.argsort(order, axis=-1)
            noise = keras.random.uniform(
                ops.shape(scores), seed=self.seed_generator
            )
            if eligible is not None:
                noise = ops.where(eligible, noise, -1.0)
            order = ops.top_k(
                ops.where(rank < self.keep_k, 2.0, noise), seq_length
            )[1]
        order = ops.cast(order, "int32")
        keep = ops.sort(order[:, : self.num_kept], axis=-1)
        drop = ops.sort(order[:, self.num_kept :], axis=-1)
        return keep, drop

    def compute_output_spec(self, scores, eligible=None, training=None):
        batch, seq_length = scores.shape
        return (
            keras.KerasTensor((batch, self.num_kept), dtype="int32"),
            keras.KerasTensor((batch, seq_length - self.num_kept), dtype="int32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "keep_k": self.keep_k,
                "random_keep_k": self.random_keep_k,
                "seed": self.seed,
            }
        )
        return config
