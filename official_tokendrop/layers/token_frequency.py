"""Per-vocabulary token frequency: the paper's frequency-based selection."""

import keras
from keras import ops

import numpy as np

from official_tokendrop.utils import distribute
from official_tokendrop.layers.token_importance import PerIdTable


@keras.saving.register_keras_serializable(package="official_tokendrop")
class TokenFrequency(PerIdTable):
    """Holds `table[vocab_size]`, how often each token id was seen in training.

    `table[id]` starts at 0 and, after every `update`, has grown by the
    number of real (mask > 0) input positions holding `id` in the (global)
    batch. Calling the layer on token ids returns their score:

    - `-log1p(table[id])` for ids in neither list: rarer ids score higher,
      so frequent ids are dropped first. The score is at most 0 and, since
      a float32 count is below 2**128, never below about -89, so it always
      stays above the -1e4 of denied ids and the encoder's -3e4 padding
      penalty;
    - +1e4 for ids in `allow_list` (always kept) and -1e4 for ids in
      `deny_list` (dropped first), whatever their count.

    Counts are float32: exact up to 2**24 per id, and beyond that their
    relative error stays far below what moves `log1p`.

    Under a multi-replica `tf.distribute` strategy, `update` all-reduces the
    per-id counts, so every replica adds the same counts and ends the step
    with the same table. The table variable uses aggregation
    `only_first_replica` so Keras' cross-replica writes cannot average it.

    Args:
        vocab_size: number of token ids.
        allow_list: ids pinned at +1e4.
        deny_list: ids pinned at -1e4.
    """

    def __init__(self, vocab_size, allow_list=(), deny_list=(), **kwargs):
        super().__init__(vocab_size, allow_list, deny_list, **kwargs)
        self.build()

    def initial_values(self):
        return np.zeros([self.vocab_size], "float32")

    def counts(self, token_ids, mask):
        """Per-id counts [vocab_size] of the positions with mask > 0."""
        return self.per_id_sums(token_ids, ops.where(ops.cast(mask, "float32") > 0, 1.0, 0.0))

    def update(self, token_ids, mask):
        """Adds the counts of one batch of training inputs.

        Args:
            token_ids: int [B, S], the input word ids.
            mask: [B, S], the input mask; positions with mask <= 0
                (padding) are not counted.
        """
        (counts,) = distribute.cross_replica_sum(self.counts(token_ids, mask))
        self.table.assign(self.table.value + counts)

    def scores(self):
        """The score of every id, float32 [vocab_size]."""
        return ops.where(
            self._pinned, self._pinned_values, -ops.log1p(self.table.value)
        )

    def call(self, token_ids):
        return ops.take(self.scores(), token_ids, axis=0)
