"""Per-vocabulary token frequency: the paper's frequency-based selection."""

import keras
from keras import ops

from official_tokendrop import distribute
from official_tokendrop.layers.token_importance import pinned_ids


@keras.saving.register_keras_serializable(package="official_tokendrop")
class TokenFrequency(keras.layers.Layer):
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
        super().__init__(**kwargs)
        allow_list = tuple(int(i) for i in allow_list)
        deny_list = tuple(int(i) for i in deny_list)
        self._pinned, self._pinned_values = pinned_ids(
            vocab_size, allow_list, deny_list
        )
        self.vocab_size = int(vocab_size)
        self.allow_list = allow_list
        self.deny_list = deny_list
        self.build()

    def build(self, input_shape=None):
        self.table = self.add_weight(
            name="table",
            shape=(self.vocab_size,),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            autocast=False,
            aggregation="only_first_replica",
        )
        self.built = True

    def counts(self, token_ids, mask):
        """Per-id counts [vocab_size] of the positions with mask > 0."""
        token_ids = ops.reshape(ops.cast(token_ids, "int32"), [-1])
        mask = ops.reshape(ops.cast(mask, "float32"), [-1])
        ones = ops.where(mask > 0, 1.0, 0.0)
        # A padded slot may hold any id; its 0 already removes it, and
        # clamping keeps the scatter in range.
        token_ids = ops.clip(token_ids, 0, self.vocab_size - 1)
        return ops.segment_sum(ones, token_ids, num_segments=self.vocab_size)

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

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, token_ids):
        return keras.KerasTensor(token_ids.shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "allow_list": list(self.allow_list),
                "deny_list": list(self.deny_list),
            }
        )
        return config
