"""BERT encoder whose middle layers see only the important tokens."""

import keras
import numpy as np
from keras import ops
from keras_hub.layers import PositionEmbedding, ReversibleEmbedding

from official_tokendrop.utils import input_checks
from official_tokendrop.errors import ConfigurationError, InputError, InputTypeError, MissingInputError
from official_tokendrop.layers import (
    MergeTokens,
    SplitTokens,
    TokenFrequency,
    TokenImportance,
    TokenSelection,
    TransformerBlock,
    gelu_approximate,
)
from official_tokendrop.layers.token_importance import pinned_ids
from official_tokendrop.layers.token_selection import check_sequence_fits

ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")

# Padding positions rank below every id, deny-listed ones included, so they
# are dropped first whatever id they hold.
_PADDING_PENALTY = 3e4

# What ranks the tokens: the running-average MLM loss of each id (the
# paper's method), a fresh random order per example and step, or each id's
# count in the training inputs (rarest kept; the paper's ablation).
SELECTIONS = ("loss", "random", "frequency")


def default_drop_layers(num_layers):
    """The paper's schedule: (first, last) dropping layer of `num_layers`,
    from the middle to the one before the last."""
    return num_layers // 2 - 1, num_layers - 2


def _checked_schedule(schedule):
    """`token_keep_k_schedule` as a tuple of (start_step, keep_k) int pairs,
    start steps increasing from 1, keep_k >= 1."""
    stages, previous = [], 0
    for stage in schedule or ():
        pair = tuple(stage) if isinstance(stage, (list, tuple)) else ()
        if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair) \
                or pair[1] < 1:
            raise ConfigurationError(
                "`token_keep_k_schedule` stages are [start_step, keep_k] integer pairs, keep_k >= 1; "
                f"got {stage!r}."
            )
        if pair[0] <= previous:
            raise ConfigurationError(
                "`token_keep_k_schedule` start steps must increase from 1 (token_keep_k holds "
                f"before the first); got {[list(s) for s in schedule]}."
            )
        stages.append(pair)
        previous = pair[0]
    return tuple(stages)


def stage_keep_ks(token_keep_k, token_keep_k_schedule=()):
    """The keep_k of every stage of a run: `token_keep_k`, then each
    schedule stage's (the schedule checked)."""
    return (token_keep_k,) + tuple(k for _, k in _checked_schedule(token_keep_k_schedule))


@keras.saving.register_keras_serializable(package="official_tokendrop")
class TokenDropBertEncoder(keras.Model):
    """BERT encoder with loss-based token dropping (Hou et al., 2022).

    Layers `0 .. first_drop_layer-1` see all tokens. Layer
    `first_drop_layer` takes only the kept tokens as queries and all tokens
    as keys/values; layers up to `last_drop_layer` see kept tokens only.
    Dropped tokens then rejoin at their positions with the states they had
    before `first_drop_layer`, and the remaining layers see all tokens.
    Which tokens are kept is decided per example by `token_selection`: by
    default `token_importance`, a running average of each id's MLM loss
    (see `TokenImportance`).

    Tokens are dropped only in training (`training=True`); inference and
    evaluation run every layer on every token, i.e. a plain BERT whose
    weights `official_tokendrop.interop.keras_hub.to_keras_hub` turns into a
    `keras_hub.models.BertBackbone`.

    Args:
        vocab_size: token vocabulary size.
        hidden_size: hidden width.
        num_layers: transformer blocks.
        num_attention_heads: attention heads per block.
        inner_dim: feed-forward inner width.
        max_sequence_length: number of position embeddings.
        type_vocab_size: number of segment (type) ids.
        output_dropout: dropout on embeddings and block outputs.
        attention_dropout: dropout on attention probabilities.
        initializer_range: stddev of the truncated-normal initializers.
        token_keep_k: tokens kept per example in the dropping layers; None
            turns dropping off (the baseline BERT).
        token_random_keep_k: extra tokens kept at random (training only).
        token_loss_init_value, token_loss_beta, token_allow_list,
        token_deny_list: see `TokenImportance`.
        first_drop_layer, last_drop_layer: 0-based bounds (inclusive) of the
            dropping layers. Default: `num_layers // 2 - 1` and
            `num_layers - 2`, the paper's schedule.
        token_selection: what ranks the tokens: `"loss"` (the importance
            table), `"random"` (a fresh random order per example and step)
            or `"frequency"` (rarest ids first, counted from the training
            inputs). Allow/deny lists and padding rules hold for all.
        token_keep_k_schedule: stages `[(start_step, keep_k), ...]`, start
            steps increasing from 1: from `start_step` on, training keeps
            `keep_k` (before the first stage, `token_keep_k`). Each stage
            is its own static-shape program.
        token_full_step_every: every n-th training step runs every layer on
            every token (hybrid training, as ScTD); 0 turns it off.
        token_consistency_weight: weight of the consistency loss on full
            steps (see `BertPretrainer`); 0 turns it off.
        dtype: dtype policy of the embeddings and blocks, e.g.
            `"mixed_bfloat16"` (bf16 compute, float32 weights); None
            follows Keras' global policy. The importance table and the
            token ranking always stay float32.

    Inputs: dict of int32 [B, S] `input_word_ids`, `input_mask`,
    `input_type_ids`. In training, `keep_k` (default `token_keep_k`) sets
    the kept count of this call and `full=True` runs it without dropping;
    `training_modes` and `training_mode_index(step)` say which a
    training step uses.

    Outputs: dict with `sequence_output` [B, S, H], `pooled_output` [B, H]
    and `encoder_outputs`, a list of [B, S, H] per layer (for dropping
    layers, kept tokens' new states merged with dropped tokens' old ones).
    """

    def __init__(
        self,
        vocab_size=30522,
        hidden_size=768,
        num_layers=12,
        num_attention_heads=12,
        inner_dim=3072,
        max_sequence_length=512,
        type_vocab_size=2,
        output_dropout=0.1,
        attention_dropout=0.1,
        initializer_range=0.02,
        token_keep_k=256,
        token_random_keep_k=0,
        token_loss_init_value=10.0,
        token_loss_beta=0.995,
        token_allow_list=(100, 101, 102, 103),
        token_deny_list=(0,),
        first_drop_layer=None,
        last_drop_layer=None,
        token_selection="loss",
        token_keep_k_schedule=(),
        token_full_step_every=0,
        token_consistency_weight=0.0,
        dtype=None,
        **kwargs,
    ):
        super().__init__(dtype=dtype, **kwargs)
        dropping = token_keep_k is not None
        if token_selection not in SELECTIONS:
            raise ConfigurationError(
                f"`token_selection` must be one of {SELECTIONS}; got {token_selection!r}."
            )
        if isinstance(token_full_step_every, bool) or not isinstance(token_full_step_every, int) \
                or token_full_step_every < 0:
            raise ConfigurationError(
                "`token_full_step_every` must be an integer >= 0 (0: no full steps); "
                f"got {token_full_step_every!r}."
            )
        if token_consistency_weight < 0 or (token_consistency_weight and not token_full_step_every):
            raise ConfigurationError(
                f"`token_consistency_weight` ({token_consistency_weight}) must be >= 0, and "
                "needs full steps (`token_full_step_every` > 0) to compare against."
            )
        if not dropping:
            # Each of these changes how tokens are dropped; without dropping
            # it would be silently ignored.
            variants = {"token_selection": token_selection != "loss",
                        "token_keep_k_schedule": bool(token_keep_k_schedule),
                        "token_full_step_every": bool(token_full_step_every),
                        "token_consistency_weight": bool(token_consistency_weight)}
            given = [key for key, on in variants.items() if on]
            if given:
                raise ConfigurationError(
                    f"{', '.join(f'`{key}`' for key in given)} need token dropping, but "
                    "`token_keep_k` is None (the baseline)."
                )
        else:
            if num_layers < 3:
                raise ConfigurationError(
                    "Token dropping needs at least 3 layers (full, dropping, "
                    f"full); got num_layers={num_layers}."
                )
            first, last = default_drop_layers(num_layers)
            first_drop_layer = first if first_drop_layer is None else first_drop_layer
            last_drop_layer = last if last_drop_layer is None else last_drop_layer
            if not 0 <= first_drop_layer <= last_drop_layer <= num_layers - 2:
                raise ConfigurationError(
                    "Dropping layers must satisfy 0 <= first_drop_layer <= "
                    "last_drop_layer <= num_layers - 2 (the last layer sees "
                    f"all tokens); got first_drop_layer={first_drop_layer}, "
                    f"last_drop_layer={last_drop_layer}, "
                    f"num_layers={num_layers}."
                )
            for keep_k in stage_keep_ks(token_keep_k, token_keep_k_schedule):
                check_sequence_fits(keep_k, token_random_keep_k, max_sequence_length,
                                    "max_sequence_length", ConfigurationError)
        if hidden_size % num_attention_heads:
            raise ConfigurationError(
                f"hidden_size {hidden_size} is not divisible by "
                f"num_attention_heads {num_attention_heads}."
            )

        # === Layers ===
        def initializer():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        self.token_embedding = ReversibleEmbedding(
            input_dim=vocab_size,
            output_dim=hidden_size,
            embeddings_initializer=initializer(),
            name="token_embedding", dtype=dtype,
        )
        self.position_embedding = PositionEmbedding(
            sequence_length=max_sequence_length,
            initializer=initializer(),
            name="position_embedding", dtype=dtype,
        )
        self.segment_embedding = keras.layers.Embedding(
            input_dim=type_vocab_size,
            output_dim=hidden_size,
            embeddings_initializer=initializer(),
            name="segment_embedding", dtype=dtype,
        )
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, name="embeddings_layer_norm", dtype=dtype
        )
        self.embeddings_dropout = keras.layers.Dropout(
            output_dropout, name="embeddings_dropout", dtype=dtype
        )
        self.transformer_layers = [
            TransformerBlock(
                num_heads=num_attention_heads,
                intermediate_dim=inner_dim,
                activation=gelu_approximate,
                output_dropout=output_dropout,
                attention_dropout=attention_dropout,
                layer_norm_epsilon=1e-12,
                kernel_initializer=initializer(),
                name=f"transformer_layer_{i}", dtype=dtype,
            )
            for i in range(num_layers)
        ]
        # TensorFlow checkpoints follow attributes, not lists: name each
        # block so `tf.train.Checkpoint(model=...)` reaches its weights.
        for i, block in enumerate(self.transformer_layers):
            setattr(self, f"transformer_layer_{i}", block)
        self.pooled_dense = keras.layers.Dense(
            hidden_size,
            activation="tanh",
            kernel_initializer=initializer(),
            name="pooled_dense", dtype=dtype,
        )
        # One scoring per strategy; the tables and the ranking are float32.
        self.token_importance = self.token_frequency = None
        if dropping and token_selection == "loss":
            self.token_importance = TokenImportance(
                vocab_size,
                init_value=token_loss_init_value,
                beta=token_loss_beta,
                allow_list=token_allow_list,
                deny_list=token_deny_list,
                dtype="float32",
                name="token_importance",
            )
        if dropping and token_selection == "frequency":
            self.token_frequency = TokenFrequency(
                vocab_size, token_allow_list, token_deny_list, dtype="float32", name="token_frequency"
            )
        if dropping and token_selection == "random":
            # Only the pins rank; the selection's noise orders the rest.
            self._pinned_scores = pinned_ids(vocab_size, token_allow_list, token_deny_list)[1]
        if dropping:
            self.token_selection_layer = TokenSelection(
                token_keep_k, token_random_keep_k, random_order=token_selection == "random",
                dtype="float32", name="token_selection",
            )
            self.split_tokens = SplitTokens(dtype=dtype, name="split_tokens")
            self.merge_tokens = MergeTokens(dtype=dtype, name="merge_tokens")

        # === Config ===
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_attention_heads = num_attention_heads
        self.inner_dim = inner_dim
        self.max_sequence_length = max_sequence_length
        self.type_vocab_size = type_vocab_size
        self.output_dropout = output_dropout
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.token_keep_k = token_keep_k
        self.token_random_keep_k = token_random_keep_k
        self.token_loss_init_value = token_loss_init_value
        self.token_loss_beta = token_loss_beta
        self.token_allow_list = tuple(token_allow_list)
        self.token_deny_list = tuple(token_deny_list)
        self.first_drop_layer = first_drop_layer
        self.last_drop_layer = last_drop_layer
        self.token_selection = token_selection
        self.token_keep_k_schedule = _checked_schedule(token_keep_k_schedule)
        self.token_full_step_every = token_full_step_every
        self.token_consistency_weight = float(token_consistency_weight)

        self.build()

    def build(self, input_shape=None):
        hidden = (None, None, self.hidden_size)
        self.token_embedding.build((None, None))
        self.position_embedding.build(hidden)
        self.segment_embedding.build((None, None))
        self.embeddings_layer_norm.build(hidden)
        for block in self.transformer_layers:
            block.build(hidden, hidden)
        self.pooled_dense.build((None, self.hidden_size))
        self.built = True

    # === What the encoder tells others ===
    @property
    def dropping(self):
        return self.token_keep_k is not None

    @property
    def drop_layers(self):
        """Indices of the layers whose queries are only the kept tokens
        (the first of them still reads every token); () without dropping."""
        if not self.dropping:
            return ()
        return tuple(range(self.first_drop_layer, self.last_drop_layer + 1))

    @property
    def num_kept(self):
        """Tokens per sequence the dropping layers process (loss-ranked plus
        random keeps); None without dropping."""
        return self.token_keep_k + self.token_random_keep_k if self.dropping else None

    def kept_fraction(self, seq_length, first_step=None, last_step=None):
        """Share of a `seq_length` sequence the dropping layers process:
        at `token_keep_k`, or the mean over training steps `[first_step,
        last_step)` (schedule stages and full steps included)."""
        if first_step is None:
            return self.num_kept / seq_length if self.dropping else 1.0
        counts = self.training_mode_counts(first_step, last_step)
        kept = sum(int(n) * (seq_length if full else k)
                   for n, (_, full), k in zip(counts, self.training_modes, self.training_mode_kept))
        return kept / ((last_step - first_step) * seq_length)

    # === Training modes: schedule stages x (dropping, full step) ===
    @property
    def training_modes(self):
        """The distinct `(keep_k, full)` a training step may run, in the
        order `training_mode_index` numbers them: each stage's keep_k, and
        with full steps each one again with `full=True` (which a
        consistency loss compares with that stage's dropping pass)."""
        if not self.dropping:
            return ((None, True),)
        fulls = (False, True) if self.token_full_step_every else (False,)
        return tuple((k, full) for k in stage_keep_ks(self.token_keep_k, self.token_keep_k_schedule)
                     for full in fulls)

    @property
    def training_mode_kept(self):
        """Tokens the dropping layers process in each of `training_modes`'
        stage (its keep_k plus the random keeps; None without dropping); a
        full step's dropping pass, if any, is its consistency target's."""
        return tuple(None if k is None else k + self.token_random_keep_k for k, _ in self.training_modes)

    def training_mode_index(self, step):
        """Index into `training_modes` of the 0-based training `step`
        (an int, array or tensor; works elementwise)."""
        step = ops.cast(ops.convert_to_tensor(step), "int32")
        stage = ops.zeros_like(step)
        for start, _ in self.token_keep_k_schedule:
            stage = stage + ops.cast(step >= start, "int32")
        if not self.token_full_step_every:
            return stage
        full = ops.cast((step + 1) % self.token_full_step_every == 0, "int32")
        return 2 * stage + full

    def training_mode_counts(self, first_step, last_step):
        """How many of the training steps `[first_step, last_step)` run each
        of `training_modes` (a NumPy array, one count per mode)."""
        index = np.asarray(self.training_mode_index(np.arange(first_step, last_step, dtype=np.int32)))
        return np.bincount(index.reshape([-1]), minlength=len(self.training_modes))

    def kept_at(self, step):
        """Tokens the dropping layers process at training `step`; None for a
        full step or an encoder without dropping."""
        index = int(self.training_mode_index(step))
        return None if self.training_modes[index][1] else self.training_mode_kept[index]

    def record_mlm_losses(self, masked_lm_ids, mlm_losses, masked_lm_weights):
        """Moves the importance table toward a step's per-prediction MLM
        losses (weight 0 entries ignored); nothing for other strategies."""
        if self.token_importance is not None:
            self.token_importance.update(masked_lm_ids, mlm_losses, masked_lm_weights)

    def record_inputs(self, input_word_ids, input_mask):
        """Counts a step's input ids (the frequency strategy); nothing for
        other strategies."""
        if self.token_frequency is not None:
            self.token_frequency.update(input_word_ids, input_mask)

    def _embed(self, word_ids, type_ids, training):
        x = self.token_embedding(word_ids)
        x = x + self.position_embedding(x) + self.segment_embedding(type_ids)
        x = self.embeddings_layer_norm(x)
        return self.embeddings_dropout(x, training=training)

    def _validated_inputs(self, inputs):
        if not isinstance(inputs, dict):
            raise InputTypeError(
                f"TokenDropBertEncoder takes a dict with keys {ENCODER_INPUTS}"
                f"; got {type(inputs).__name__}."
            )
        missing = [k for k in ENCODER_INPUTS if k not in inputs]
        if missing:
            raise MissingInputError(
                f"TokenDropBertEncoder inputs lack {missing}; "
                f"got keys {sorted(inputs)}."
            )
        tensors = [ops.cast(inputs[k], "int32") for k in ENCODER_INPUTS]
        shapes = {k: tuple(t.shape) for k, t in zip(ENCODER_INPUTS, tensors)}
        if len(set(shapes.values())) != 1 or len(tensors[0].shape) != 2:
            raise InputError(
                f"Encoder inputs must all be [batch, seq_length]; got {shapes}."
            )
        seq_length = tensors[0].shape[1]
        if seq_length is not None and seq_length > self.max_sequence_length:
            raise InputError(
                f"Sequence length {seq_length} exceeds max_sequence_length "
                f"{self.max_sequence_length}."
            )
        return tensors

    def call(self, inputs, training=None, keep_k=None, full=False):
        word_ids, mask, type_ids = self._validated_inputs(inputs)
        valid = ops.logical_and(
            input_checks.check_range("input_word_ids", word_ids, self.vocab_size),
            input_checks.check_range(
                "input_type_ids", type_ids, self.type_vocab_size
            ),
        )
        x = input_checks.poison_invalid(
            self._embed(word_ids, type_ids, training), valid
        )
        if self.dropping and training and not full:
            encoder_outputs = self._blocks_with_dropping(
                x, word_ids, mask, training, self.token_keep_k if keep_k is None else keep_k
            )
        else:
            encoder_outputs = self._blocks(
                x, self.transformer_layers, ops.expand_dims(mask, 1), training
            )
        x = encoder_outputs[-1]
        return {
            "sequence_output": x,
            "pooled_output": self.pooled_dense(x[:, 0, :]),
            "encoder_outputs": encoder_outputs,
        }

    def select_tokens(self, input_word_ids, input_mask, training=True, keep_k=None):
        """Kept and dropped positions, `(keep [B, K], drop [B, S - K])`.

        Ranks positions by the score of their token id under
        `token_selection`; padding positions rank below every id,
        deny-listed ones included. `keep_k` defaults to `token_keep_k`.
        """
        if not self.dropping:
            raise ConfigurationError("This encoder was built with token_keep_k=None.")
        mask = ops.cast(input_mask, "int32")
        if self.token_importance is not None:
            scores = self.token_importance(input_word_ids)
        elif self.token_frequency is not None:
            scores = self.token_frequency(input_word_ids)
        else:
            scores = ops.take(ops.convert_to_tensor(self._pinned_scores), input_word_ids, axis=0)
        scores = scores - _PADDING_PENALTY * ops.cast(mask == 0, "float32")
        return self.token_selection_layer(scores, eligible=mask > 0, training=training, keep_k=keep_k)

    @staticmethod
    def _blocks(x, blocks, attention_mask, training):
        """Runs `blocks` in turn (self-attention); returns every output."""
        outputs = []
        for block in blocks:
            x = block(x, attention_mask=attention_mask, training=training)
            outputs.append(x)
        return outputs

    def _blocks_with_dropping(self, x, word_ids, mask, training, keep_k):
        """Runs every block with token dropping; returns every output."""
        blocks = self.transformer_layers
        first, last = self.first_drop_layer, self.last_drop_layer
        full_mask = ops.expand_dims(mask, 1)
        encoder_outputs = self._blocks(x, blocks[:first], full_mask, training)
        x = encoder_outputs[-1] if encoder_outputs else x

        keep, drop = self.select_tokens(word_ids, mask, training=training, keep_k=keep_k)
        kept, dropped = self.split_tokens(x, keep, drop)
        kept_mask = ops.expand_dims(self.split_tokens(mask, keep, drop)[0], 1)
        # Kept tokens read every token once, then only each other.
        kept = blocks[first](kept, x, attention_mask=full_mask, training=training)
        kept_outputs = [kept] + self._blocks(
            kept, blocks[first + 1 : last + 1], kept_mask, training
        )
        encoder_outputs += [
            self.merge_tokens(k, dropped, keep, drop) for k in kept_outputs
        ]
        return encoder_outputs + self._blocks(
            encoder_outputs[-1], blocks[last + 1 :], full_mask, training
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "hidden_size": self.hidden_size,
                "num_layers": self.num_layers,
                "num_attention_heads": self.num_attention_heads,
                "inner_dim": self.inner_dim,
                "max_sequence_length": self.max_sequence_length,
                "type_vocab_size": self.type_vocab_size,
                "output_dropout": self.output_dropout,
                "attention_dropout": self.attention_dropout,
                "initializer_range": self.initializer_range,
                "token_keep_k": self.token_keep_k,
                "token_random_keep_k": self.token_random_keep_k,
                "token_loss_init_value": self.token_loss_init_value,
                "token_loss_beta": self.token_loss_beta,
                "token_allow_list": list(self.token_allow_list),
                "token_deny_list": list(self.token_deny_list),
                "first_drop_layer": self.first_drop_layer,
                "last_drop_layer": self.last_drop_layer,
                "token_selection": self.token_selection,
                "token_keep_k_schedule": [list(stage) for stage in self.token_keep_k_schedule],
                "token_full_step_every": self.token_full_step_every,
                "token_consistency_weight": self.token_consistency_weight,
            }
        )
        return config
