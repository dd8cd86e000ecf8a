"""Synthetic pretraining batches in the Model Garden feature layout.

For tests, benchmarks and the quick start: real-looking shapes and masks,
no data files.
"""

import numpy as np


def pretraining_batch(
    batch_size,
    seq_length,
    num_predictions,
    vocab_size,
    num_special=5,
    min_length=None,
    seed=0,
):
    """Returns a dict of NumPy arrays, one Model Garden pretraining batch.

    Token ids are drawn from `[num_special, vocab_size)`; ids below
    `num_special` are left for special tokens, with 0 as padding. Each
    example has a random real length in `[min_length, seq_length]`
    (default: half the sequence) and `num_predictions` slots of which a
    random number are real (weight 1.0), at distinct sorted positions
    inside the real tokens, where the input holds the [MASK] id
    `num_special - 1`; padded slots hold position 0, id 0, weight 0.
    """
    rng = np.random.default_rng(seed)
    min_length = min_length or max(num_predictions, seq_length // 2)
    word_ids = np.zeros([batch_size, seq_length], "int32")
    input_mask = np.zeros([batch_size, seq_length], "int32")
    positions = np.zeros([batch_size, num_predictions], "int32")
    weights = np.zeros([batch_size, num_predictions], "float32")
    for b in range(batch_size):
        length = int(rng.integers(min_length, seq_length + 1))
        word_ids[b, :length] = rng.integers(num_special, vocab_size, length)
        input_mask[b, :length] = 1
        real = int(rng.integers(1, min(num_predictions, length) + 1))
        positions[b, :real] = np.sort(rng.choice(length, real, replace=False))
        weights[b, :real] = 1.0
    labels = np.take_along_axis(word_ids, positions, axis=1) * (weights > 0)
    for b in range(batch_size):
        word_ids[b, positions[b, weights[b] > 0]] = num_special - 1
    return {
        "input_word_ids": word_ids,
        "input_mask": input_mask,
        "input_type_ids": np.zeros([batch_size, seq_length], "int32"),
        "masked_lm_positions": positions,
        "masked_lm_ids": labels.astype("int32"),
        "masked_lm_weights": weights,
    }
