"""Masked-LM example creation as one vectorized TensorFlow function.

Used both by the TFRecord converter (static masking) and by the reader
(dynamic masking at read time), so both produce identical statistics.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from official_tokendrop.errors import ConfigurationError


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    """How to choose and corrupt masked-LM positions.

    Attributes:
        max_predictions_per_seq: P, the fixed number of prediction slots.
        masked_lm_prob: fraction of eligible tokens to predict; per sequence
            `min(P, max(1, round(eligible * masked_lm_prob)))`, as BERT does.
        mask_id: id of [MASK].
        special_ids: ids never masked nor used as random replacements.
        vocab_size: replacement ids are drawn from `[0, vocab_size)` minus
            `special_ids`.
        whole_word: select whole words (a word is a start piece and the
            `##` pieces after it); a word that would exceed the budget is
            left out.
        continuation_ids: ids of `##` pieces (needed for `whole_word`).
        mask_rate, random_rate: corruption of each selected token: [MASK]
            with `mask_rate`, a random id with `random_rate`, else kept.
    """

    max_predictions_per_seq: int
    masked_lm_prob: float
    mask_id: int
    special_ids: tuple
    vocab_size: int
    whole_word: bool = False
    continuation_ids: tuple = ()
    mask_rate: float = 0.8
    random_rate: float = 0.1

    def __post_init__(self):
        if self.max_predictions_per_seq < 1:
            raise ConfigurationError(
                "max_predictions_per_seq must be >= 1, got "
                f"{self.max_predictions_per_seq}."
            )
        if not 0.0 < self.masked_lm_prob < 1.0:
            raise ConfigurationError(
                f"masked_lm_prob must lie in (0, 1), got {self.masked_lm_prob}."
            )

    @classmethod
    def from_vocabulary(cls, vocab, max_predictions_per_seq, masked_lm_prob, whole_word=False):
        return cls(
            max_predictions_per_seq=max_predictions_per_seq,
            masked_lm_prob=masked_lm_prob,
            mask_id=vocab.id("[MASK]"),
            special_ids=vocab.special_ids,
            vocab_size=len(vocab),
            whole_word=whole_word,
            continuation_ids=tuple(np.flatnonzero(vocab.continuation_mask).tolist()),
        )


def _lookup_table(ids, size):
    table = np.zeros([size], bool)
    table[list(ids)] = True
    return tf.constant(table)


def _eligible_words(token_ids, input_mask, config):
    """(eligible [N, S]: real, non-special tokens; word [N, S]: the index of
    each token's word, a word being a start and its continuations)."""
    special = tf.gather(_lookup_table(config.special_ids, config.vocab_size), token_ids)
    eligible = tf.logical_and(tf.cast(input_mask, tf.bool), tf.logical_not(special))
    if config.whole_word:
        continuation = tf.gather(
            _lookup_table(config.continuation_ids, config.vocab_size), token_ids
        )
        starts = tf.logical_and(eligible, tf.logical_not(continuation))
    else:
        starts = eligible
    # Word index of each token: the last word start at or before it.
    word = tf.maximum(tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1, 0)
    return eligible, word


def _prediction_budget(eligible, config):
    """Predictions per row: `masked_lm_prob` of its eligible tokens, at
    least 1 (0 for a row without any), at most `max_predictions_per_seq`."""
    counts = tf.reduce_sum(tf.cast(eligible, tf.float32), axis=1)
    budget = tf.minimum(
        float(config.max_predictions_per_seq),
        tf.maximum(1.0, tf.round(counts * config.masked_lm_prob)),
    )
    return tf.cast(tf.where(counts > 0, budget, 0.0), tf.int32)


def _chosen_positions(eligible, word, budget, seed, max_predictions):
    """Up to `budget` eligible positions per row, whole words at random;
    returns (positions [N, P] ascending, 0 in padded slots; weights [N, P],
    True on real predictions)."""
    seq_length = eligible.shape[1]
    # All pieces of a word share the word's random key, so sorting by key
    # keeps each word contiguous; ineligible tokens sort last.
    word_keys = tf.random.stateless_uniform(tf.shape(eligible), seed)
    keys = tf.where(eligible, tf.gather(word_keys, word, batch_dims=1), -1.0)
    # Ineligible tokens get word ids of their own, so none joins a word.
    word = tf.where(eligible, word, seq_length + tf.range(seq_length)[None, :])
    order = tf.argsort(keys, axis=1, direction="DESCENDING", stable=True)
    ranked_word = tf.gather(word, order, batch_dims=1)
    ranks = tf.range(seq_length)[None, :]
    # A word that straddles the budget boundary is left out whole.
    last = tf.maximum(budget - 1, 0)[:, None]
    boundary_word = tf.gather(ranked_word, last, batch_dims=1)
    after = tf.gather(ranked_word, tf.minimum(last + 1, seq_length - 1), batch_dims=1)
    straddles = tf.logical_and(budget[:, None] < seq_length, tf.equal(after, boundary_word))
    straddles = tf.logical_and(straddles, budget[:, None] > 0)
    chosen = tf.logical_and(
        ranks < budget[:, None],
        tf.logical_not(tf.logical_and(straddles, tf.equal(ranked_word, boundary_word))),
    )
    positions = tf.sort(tf.where(chosen, order, seq_length), axis=1)[:, :max_predictions]
    weights = positions < seq_length
    return tf.where(weights, positions, 0), weights


def _corrupted(token_ids, positions, weights, labels, seeds, config):
    """`token_ids` with each prediction's token replaced: 80% [MASK], 10% a
    random id, 10% unchanged."""
    action = tf.random.stateless_uniform(tf.shape(positions), seeds[0])
    replaceable = np.setdiff1d(np.arange(config.vocab_size), config.special_ids)
    random_ids = tf.gather(
        tf.constant(replaceable, tf.int32),
        tf.random.stateless_uniform(
            tf.shape(positions), seeds[1], maxval=len(replaceable), dtype=tf.int32
        ),
    )
    replacement = tf.where(
        action < config.mask_rate,
        config.mask_id,
        tf.where(action < config.mask_rate + config.random_rate, random_ids, labels),
    )
    rows = tf.broadcast_to(tf.range(tf.shape(token_ids)[0])[:, None], tf.shape(positions))
    update_at = tf.boolean_mask(tf.stack([rows, positions], axis=-1), weights)
    return tf.tensor_scatter_nd_update(
        token_ids, update_at, tf.boolean_mask(replacement, weights)
    )


def mask_tokens(token_ids, input_mask, seed, config):
    """Chooses and corrupts masked-LM positions for a batch.

    Args:
        token_ids: int32 [N, S], padded with anything where `input_mask` is 0.
        input_mask: int [N, S], 1 on real tokens.
        seed: int [2], seed of the stateless random ops (same seed, same
            output).
        config: `MaskingConfig`.

    Returns:
        dict of `input_word_ids` [N, S] (corrupted), `masked_lm_positions`,
        `masked_lm_ids` int32 [N, P], `masked_lm_weights` float32 [N, P]
        (1.0 on real predictions, positions ascending; padded slots hold 0).
    """
    token_ids = tf.cast(token_ids, tf.int32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    eligible, word = _eligible_words(token_ids, input_mask, config)
    budget = _prediction_budget(eligible, config)
    positions, weights = _chosen_positions(eligible, word, budget, seeds[0], config.max_predictions_per_seq)
    labels = tf.where(weights, tf.gather(token_ids, positions, batch_dims=1), 0)
    return {
        "input_word_ids": _corrupted(token_ids, positions, weights, labels, seeds[1:3], config),
        "masked_lm_positions": positions,
        "masked_lm_ids": labels,
        "masked_lm_weights": tf.cast(weights, tf.float32),
    }
