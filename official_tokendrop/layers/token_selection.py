"""Per-example choice of the tokens that go through the dropping layers."""

import keras
from keras import ops

from official_tokendrop.errors import ConfigurationError, InputError


def check_sequence_fits(keep_k, random_keep_k, length, what, error=InputError):
    """The one check that the kept tokens fit a sequence: `keep_k +
    random_keep_k <= length`, where `what` names `length` in the message
    (the layer's input, the encoder's positions, a task's data)."""
    if keep_k + random_keep_k > length:
        raise error(
            f"`token_keep_k` ({keep_k}) + `token_random_keep_k` ({random_keep_k}) "
            f"exceeds {what} {length}."
        )


@keras.saving.register_keras_serializable(package="official_tokendrop")
class TokenSelection(keras.layers.Layer):
    """Splits the positions of each example into kept and dropped indices.

    Keeps the `keep_k` positions of highest score, plus `random_keep_k`
    positions drawn uniformly (in training) from the remaining eligible ones.

    Ties are broken toward the earlier position: among equal scores the
    smaller index is kept. With `random_order`, in training, positions are
    instead ranked by `scores + uniform[0, 1)` noise, so among equal scores
    the order is random (the "random" selection strategy). The noise never
    reorders scores that differ by 2 or more (by 1 in exact arithmetic; in
    float32 near |score| ~ 4e4, `s + noise` may round up to `s + 1`), so
    score classes far apart (e.g. +1e4 allowed, 0, -1e4 denied, minus 3e4
    at padding) keep their order exactly. Random keeps, if any, are then
    drawn as usual after the `keep_k` best of this ranking.

    Both outputs are sorted ascending, so the kept
    tokens keep their original relative order and the two index sets are
    always exact complements of each other.

    Call args:
        scores: float [B, S], higher is more important.
        eligible: optional bool [B, S]; positions that may be chosen at
            random. Defaults to all.
        training: random keeps and the `random_order` noise apply only in
            training; otherwise the random slots go to the next highest
            scores and ties go to the earlier position.
        keep_k: this call's kept count instead of the layer's `keep_k`
            (a schedule stage); None keeps the layer's.

    Returns:
        `(keep_indices [B, K], drop_indices [B, S - K])`, int32, with
        `K = keep_k + random_keep_k`.

    Args:
        keep_k: positions kept by score.
        random_keep_k: extra positions kept at random in training.
        random_order: in training, break ties among equal scores at random
            (see above) instead of toward the earlier position.
        seed: seed of the layer's generator for random keeps and
            `random_order`; two layers with the same seed draw the same
            sequence of selections.
    """

    def __init__(
        self, keep_k, random_keep_k=0, seed=None, random_order=False, **kwargs
    ):
        super().__init__(**kwargs)
        if keep_k is None or int(keep_k) < 1:
            raise ConfigurationError(f"`token_keep_k` must be >= 1, got {keep_k}.")
        if int(random_keep_k) < 0:
            raise ConfigurationError(
                f"`random_keep_k` must be >= 0, got {random_keep_k}."
            )
        self.keep_k = int(keep_k)
        self.random_keep_k = int(random_keep_k)
        self.random_order = bool(random_order)
        self.seed = seed
        # Only a layer that draws gets a generator (and its state variable),
        # so the variables of a deterministic layer stay as they were.
        self.seed_generator = (
            keras.random.SeedGenerator(seed)
            if self.random_keep_k or self.random_order
            else None
        )
        self.built = True

    @property
    def num_kept(self):
        return self.keep_k + self.random_keep_k

    def call(self, scores, eligible=None, training=None, keep_k=None):
        keep_k = self.keep_k if keep_k is None else keep_k
        num_kept = keep_k + self.random_keep_k
        seq_length = scores.shape[-1]
        if seq_length is None:
            raise InputError(
                "Token selection needs a static sequence length; got "
                f"scores of shape {scores.shape}."
            )
        check_sequence_fits(keep_k, self.random_keep_k, seq_length, "the sequence length")
        ranking = scores
        if self.random_order and training:
            # float32 so that the noise survives next to |scores| ~ 3e4
            # (a bfloat16 step there is 128).
            ranking = ops.cast(scores, "float32") + keras.random.uniform(
                ops.shape(scores), dtype="float32", seed=self.seed_generator
            )
        # A full descending top-k is a sort whose ties keep index order.
        order = ops.top_k(ranking, seq_length)[1]
        if self.random_keep_k and training:
            rank = ops.argsort(order, axis=-1)
            noise = keras.random.uniform(
                ops.shape(scores), seed=self.seed_generator
            )
            if eligible is not None:
                noise = ops.where(eligible, noise, -1.0)
            order = ops.top_k(
                ops.where(rank < keep_k, 2.0, noise), seq_length
            )[1]
        order = ops.cast(order, "int32")
        keep = ops.sort(order[:, :num_kept], axis=-1)
        drop = ops.sort(order[:, num_kept:], axis=-1)
        return keep, drop

    def compute_output_spec(self, scores, eligible=None, training=None, keep_k=None):
        batch, seq_length = scores.shape
        num_kept = (keep_k or self.keep_k) + self.random_keep_k
        return (
            keras.KerasTensor((batch, num_kept), dtype="int32"),
            keras.KerasTensor((batch, seq_length - num_kept), dtype="int32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "keep_k": self.keep_k,
                "random_keep_k": self.random_keep_k,
                "random_order": self.random_order,
                "seed": self.seed,
            }
        )
        return config
