"""Per-vocabulary token importance: a running average of each id's MLM loss."""

import numpy as np
import keras
from keras import ops

from official_tokendrop.utils import distribute
from official_tokendrop.errors import ConfigurationError

PINNED_IMPORTANCE = 1e4


def pinned_ids(vocab_size, allow_list=(), deny_list=()):
    """The ids whose score is fixed by the allow and deny lists.

    Shared by every per-id scoring layer so all selection strategies pin the
    same ids with the same values.

    Args:
        vocab_size: number of token ids.
        allow_list: ids always kept; pinned at +1e4.
        deny_list: ids dropped first; pinned at -1e4.

    Returns:
        `(pinned, values)`: `pinned` a bool array [vocab_size], True for the
        listed ids; `values` a float32 array [vocab_size] holding +1e4 for
        allowed ids, -1e4 for denied ids and 0 elsewhere.

    Raises:
        ConfigurationError: `vocab_size` < 1, a listed id outside
            [0, vocab_size), or an id in both lists.
    """
    if vocab_size < 1:
        raise ConfigurationError(f"`vocab_size` must be >= 1, got {vocab_size}.")
    allow_list = tuple(int(i) for i in allow_list)
    deny_list = tuple(int(i) for i in deny_list)
    for name, ids in (("allow_list", allow_list), ("deny_list", deny_list)):
        outside = [i for i in ids if not 0 <= i < vocab_size]
        if outside:
            raise ConfigurationError(
                f"`token_{name}` ids {outside} are outside the "
                f"vocabulary [0, {vocab_size})."
            )
    overlap = sorted(set(allow_list) & set(deny_list))
    if overlap:
        raise ConfigurationError(
            f"Ids {overlap} are in both `token_allow_list` and "
            "`token_deny_list`."
        )
    values = np.zeros([int(vocab_size)], "float32")
    values[list(allow_list)] = PINNED_IMPORTANCE
    values[list(deny_list)] = -PINNED_IMPORTANCE
    pinned = np.zeros([int(vocab_size)], np.bool_)
    pinned[list(allow_list + deny_list)] = True
    return pinned, values


class PerIdTable(keras.layers.Layer):
    """A float32 table with one non-trainable score per token id, the same
    on every replica, whose allow/deny ids are pinned (`pinned_ids`): the
    common part of the selection strategies' scores.

    Its variable uses aggregation `only_first_replica`, so Keras'
    cross-replica writes cannot average it; subclasses all-reduce what
    they add before writing.
    """

    def __init__(self, vocab_size, allow_list=(), deny_list=(), **kwargs):
        super().__init__(**kwargs)
        self.allow_list = tuple(int(i) for i in allow_list)
        self.deny_list = tuple(int(i) for i in deny_list)
        self._pinned, self._pinned_values = pinned_ids(vocab_size, self.allow_list, self.deny_list)
        self.vocab_size = int(vocab_size)

    def initial_values(self):
        """The table before any update, float32 [vocab_size]."""
        raise NotImplementedError

    def build(self, input_shape=None):
        initial = self.initial_values().astype("float32")
        self.table = self.add_weight(
            name="table",
            shape=(self.vocab_size,),
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(
                initial, dtype="float32"
            ),
            dtype="float32",
            trainable=False,
            autocast=False,
            aggregation="only_first_replica",
        )
        self.built = True

    def per_id_sums(self, ids, values):
        """`values` summed per id, [vocab_size]. Ids are clamped into range:
        a padded slot may hold any id, and its value (0) already removes it."""
        ids = ops.clip(ops.reshape(ops.cast(ids, "int32"), [-1]), 0, self.vocab_size - 1)
        return ops.segment_sum(ops.reshape(values, [-1]), ids, num_segments=self.vocab_size)

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


@keras.saving.register_keras_serializable(package="official_tokendrop")
class TokenImportance(PerIdTable):
    """Holds `table[vocab_size]`, the importance of every token id.

    `table[id]` starts at `init_value` and follows
    `beta * table[id] + (1 - beta) * mean_loss(id)` after every `update`,
    where `mean_loss(id)` is the weighted mean MLM loss of all predictions of
    `id` in the (global) batch. Ids in `allow_list` are pinned at +1e4 (always
    kept), ids in `deny_list` at -1e4 (dropped first); they never move.

    Calling the layer on token ids returns their importance.

    Under a multi-replica `tf.distribute` strategy, `update` all-reduces the
    per-id loss sums and counts, so every replica applies the same update and
    ends the step with the same table.

    Args:
        vocab_size: number of token ids.
        init_value: initial importance of every id that is not pinned.
        beta: running-average decay in [0, 1).
        allow_list: ids pinned at +1e4.
        deny_list: ids pinned at -1e4.
    """

    def __init__(
        self,
        vocab_size,
        init_value=10.0,
        beta=0.995,
        allow_list=(),
        deny_list=(),
        **kwargs,
    ):
        if not 0.0 <= beta < 1.0:
            raise ConfigurationError(f"`beta` must lie in [0, 1), got {beta}.")
        super().__init__(vocab_size, allow_list, deny_list, **kwargs)
        self.init_value = float(init_value)
        self.beta = float(beta)
        self.build()

    def initial_values(self):
        return np.where(self._pinned, self._pinned_values, self.init_value)

    def call(self, token_ids):
        return ops.take(self.table, token_ids, axis=0)

    def loss_statistics(self, label_ids, losses, weights):
        """Per-id weighted loss sums and weight sums, each [vocab_size].

        Positions with weight <= 0 contribute nothing.
        """
        losses = ops.cast(losses, "float32")
        weights = ops.cast(weights, "float32")
        weights = ops.where(weights > 0, weights, 0.0)
        loss_sums = self.per_id_sums(label_ids, weights * losses)
        weight_sums = self.per_id_sums(label_ids, weights)
        return loss_sums, weight_sums

    def update(self, label_ids, losses, weights):
        """One running-average step from the MLM losses of a batch.

        Args:
            label_ids: int [B, P], the masked-LM label ids.
            losses: float [B, P], the per-position MLM losses.
            weights: float [B, P], `masked_lm_weights`; 0 marks padding.
        """
        loss_sums, weight_sums = distribute.cross_replica_sum(
            *self.loss_statistics(label_ids, losses, weights)
        )
        seen = weight_sums > 0
        mean_loss = loss_sums / ops.where(seen, weight_sums, 1.0)
        table = self.table.value
        averaged = self.beta * table + (1.0 - self.beta) * mean_loss
        moved = ops.logical_and(seen, ops.logical_not(self._pinned))
        self.table.assign(ops.where(moved, averaged, table))

    def get_config(self):
        config = super().get_config()
        config.update({"init_value": self.init_value, "beta": self.beta})
        return config
