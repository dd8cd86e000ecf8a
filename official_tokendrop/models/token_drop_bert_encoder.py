"""BERT encoder whose middle layers see only the important tokens.

Layers `0 .. first_drop_layer-1` see all tokens. Layer `first_drop_layer`
takes only the kept tokens as queries and all tokens as keys/values; layers
up to `last_drop_layer` see kept tokens only. Dropped tokens then rejoin at
their positions with the states they had before `first_drop_layer`, and the
remaining layers see all tokens. Which tokens are kept is decided per
example by `token_selection`: by default `token_importance`, a running
average of each id's MLM loss (see `TokenImportance`).

Tokens are dropped only in training (`training=True`); inference and
evaluation run every layer on every token, i.e. a plain BERT whose weights
`official_tokendrop.interop.keras_hub.to_keras_hub` turns into a
`keras_hub.models.BertBackbone`.
"""

import keras
from keras import ops
from keras_hub.layers import PositionEmbedding, ReversibleEmbedding

from official_tokendrop.errors import ConfigurationError, InputError, InputTypeError, MissingInputError
from official_tokendrop.layers import (
    HIDDEN_ACTIVATIONS,
    MergeTokens,
    SplitTokens,
    TokenFrequency,
    TokenImportance,
    TokenSelection,
    TransformerBlock,
)
from official_tokendrop.layers.token_importance import pinned_ids
from official_tokendrop.models.token_schedule import TokenSchedule
from official_tokendrop.utils import input_checks

ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")

# Padding positions rank below every id, deny-listed ones included, so they
# are dropped first whatever id they hold.
_PADDING_PENALTY = 3e4

# What ranks the tokens: the running-average MLM loss of each id (the
# paper's method), a fresh random order per example and step, or each id's
# count in the training inputs (rarest kept; the paper's ablation).
SELECTIONS = ("loss", "random", "frequency")

# The constructor arguments, in order: attributes of the encoder and the
# keys of its config.
_CONFIG_KEYS = (
    "vocab_size", "hidden_size", "num_layers", "num_attention_heads", "inner_dim",
    "max_sequence_length", "type_vocab_size", "output_dropout", "attention_dropout",
    "initializer_range", "hidden_activation", "token_keep_k", "token_random_keep_k", "token_loss_init_value",
    "token_loss_beta", "token_allow_list", "token_deny_list", "first_drop_layer",
    "last_drop_layer", "token_selection", "token_keep_k_schedule", "token_full_step_every",
    "token_consistency_weight",
)


def checked_schedule(config):
    """The `TokenSchedule` of the encoder arguments `config` (a dict by
    argument name), after checking them in the order their errors are
    reported; what the constructor checks before it builds a layer, for
    programs that refuse a configuration before doing any work."""
    activation = config["hidden_activation"]
    if activation not in HIDDEN_ACTIVATIONS:
        raise ConfigurationError(f"`hidden_activation` must be one of {tuple(HIDDEN_ACTIVATIONS)} (GELU's tanh and "
                                 f"exact forms); got {activation!r}.")
    selection = config["token_selection"]
    if selection not in SELECTIONS:
        raise ConfigurationError(f"`token_selection` must be one of {SELECTIONS}; got {selection!r}.")
    schedule = TokenSchedule.checked(
        config["num_layers"], config["max_sequence_length"], config["token_keep_k"],
        config["token_random_keep_k"], config["first_drop_layer"], config["last_drop_layer"],
        config["token_keep_k_schedule"], config["token_full_step_every"],
        config["token_consistency_weight"], selection,
    )
    hidden_size, num_heads = config["hidden_size"], config["num_attention_heads"]
    if hidden_size % num_heads:
        raise ConfigurationError(
            f"hidden_size {hidden_size} is not divisible by "
            f"num_attention_heads {num_heads}."
        )
    return schedule


def _checked_inputs(inputs, max_sequence_length):
    """The int32 [B, S] encoder inputs of the dict `inputs`, in
    `ENCODER_INPUTS` order."""
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
    if seq_length is not None and seq_length > max_sequence_length:
        raise InputError(
            f"Sequence length {seq_length} exceeds max_sequence_length "
            f"{max_sequence_length}."
        )
    return tensors


def _embedding_layers(config, initializer, dtype):
    """Token, position and segment embeddings, their layer norm and dropout."""
    hidden_size = config["hidden_size"]
    return (
        ReversibleEmbedding(config["vocab_size"], hidden_size, embeddings_initializer=initializer(),
                            name="token_embedding", dtype=dtype),
        PositionEmbedding(config["max_sequence_length"], initializer=initializer(),
                          name="position_embedding", dtype=dtype),
        keras.layers.Embedding(config["type_vocab_size"], hidden_size, embeddings_initializer=initializer(),
                               name="segment_embedding", dtype=dtype),
        keras.layers.LayerNormalization(epsilon=1e-12, name="embeddings_layer_norm", dtype=dtype),
        keras.layers.Dropout(config["output_dropout"], name="embeddings_dropout", dtype=dtype),
    )


def _transformer_blocks(config, initializer, dtype):
    return [
        TransformerBlock(
            num_heads=config["num_attention_heads"],
            intermediate_dim=config["inner_dim"],
            activation=HIDDEN_ACTIVATIONS[config["hidden_activation"]],
            output_dropout=config["output_dropout"],
            attention_dropout=config["attention_dropout"],
            layer_norm_epsilon=1e-12,
            kernel_initializer=initializer(),
            name=f"transformer_layer_{i}", dtype=dtype,
        )
        for i in range(config["num_layers"])
    ]


def _token_dropping_layers(config, dtype):
    """{attribute: value} of the ranking of `token_selection` and the layers
    that split the kept tokens off and merge them back; the tables and the
    ranking are float32."""
    vocab_size, allow, deny = config["vocab_size"], config["token_allow_list"], config["token_deny_list"]
    selection = config["token_selection"]
    layers = {}
    if selection == "loss":
        layers["token_importance"] = TokenImportance(
            vocab_size, init_value=config["token_loss_init_value"], beta=config["token_loss_beta"],
            allow_list=allow, deny_list=deny, dtype="float32", name="token_importance",
        )
    if selection == "frequency":
        layers["token_frequency"] = TokenFrequency(vocab_size, allow, deny, dtype="float32",
                                                   name="token_frequency")
    if selection == "random":
        # Only the pins rank; the selection's noise orders the rest.
        layers["_pinned_scores"] = pinned_ids(vocab_size, allow, deny)[1]
    layers["token_selection_layer"] = TokenSelection(
        config["token_keep_k"], config["token_random_keep_k"], random_order=selection == "random",
        dtype="float32", name="token_selection",
    )
    layers["split_tokens"] = SplitTokens(dtype=dtype, name="split_tokens")
    layers["merge_tokens"] = MergeTokens(dtype=dtype, name="merge_tokens")
    return layers


@keras.saving.register_keras_serializable(package="official_tokendrop")
class TokenDropBertEncoder(keras.Model):
    """BERT encoder with loss-based token dropping (Hou et al., 2022): the
    middle layers see only the kept tokens in training (see the module's
    docstring); inference runs every layer on every token.

    Args:
        vocab_size: int. Token vocabulary size.
        hidden_size: int. Hidden width.
        num_layers: int. Transformer blocks.
        num_attention_heads: int. Attention heads per block.
        inner_dim: int. Feed-forward inner width.
        max_sequence_length: int. Number of position embeddings.
        type_vocab_size: int. Number of segment (type) ids.
        output_dropout: float. Dropout on embeddings and block outputs.
        attention_dropout: float. Dropout on attention probabilities.
        initializer_range: float. Stddev of the truncated-normal
            initializers.
        hidden_activation: str. The blocks' feed-forward GELU: `"gelu"`,
            its tanh form (Model Garden's "gelu", Google's BERT, keras-hub's
            `BertBackbone`, transformers' `gelu_new`), or `"gelu_exact"`,
            the erf form (transformers' `gelu`, e.g. MiniLM).
        token_keep_k: int or None. Tokens kept per example in the dropping
            layers; None turns dropping off (the baseline BERT).
        token_random_keep_k: int. Extra tokens kept at random (training
            only).
        token_loss_init_value, token_loss_beta: float;
        token_allow_list, token_deny_list: sequences of int. See
            `TokenImportance`.
        first_drop_layer, last_drop_layer: int or None. 0-based bounds
            (inclusive) of the dropping layers. Default: `num_layers // 2 -
            1` and `num_layers - 2`, the paper's schedule.
        token_selection: str. What ranks the tokens: `"loss"` (the
            importance table), `"random"` (a fresh random order per example
            and step) or `"frequency"` (rarest ids first, counted from the
            training inputs). Allow/deny lists and padding rules hold for
            all.
        token_keep_k_schedule: sequence of `(start_step, keep_k)` int
            pairs, start steps increasing from 1: from `start_step` on,
            training keeps `keep_k` (before the first stage,
            `token_keep_k`). Each stage is its own static-shape program.
        token_full_step_every: int. Every n-th training step runs every
            layer on every token (hybrid training, as ScTD); 0 turns it off.
        token_consistency_weight: float. Weight of the consistency loss on
            full steps (see `BertPretrainer`); 0 turns it off.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the
            embeddings and blocks, e.g. `"mixed_bfloat16"` (bf16 compute,
            float32 weights); None follows Keras' global policy. The
            importance table and the token ranking always stay float32.

    Every argument is an attribute of the same name (the drop layers with
    their defaults filled in); `schedule` is the run's `TokenSchedule`.

    Inputs: dict of int32 [B, S] `input_word_ids`, `input_mask`,
    `input_type_ids`. In training, `keep_k` (default `token_keep_k`) sets
    the kept count of this call and `full=True` runs it without dropping;
    `training_modes` and `training_mode_index(step)` say which a
    training step uses.

    Outputs: dict with `sequence_output` [B, S, H], `pooled_output` [B, H]
    and `encoder_outputs`, a list of [B, S, H] per layer (for dropping
    layers, kept tokens' new states merged with dropped tokens' old ones).

    Example:
    ```python
    encoder = TokenDropBertEncoder(
        vocab_size=1000, hidden_size=64, num_layers=4, num_attention_heads=2,
        inner_dim=128, max_sequence_length=32, token_keep_k=16,
    )
    inputs = {
        "input_word_ids": np.random.randint(5, 1000, size=(2, 32)),
        "input_mask": np.ones((2, 32), "int32"),
        "input_type_ids": np.zeros((2, 32), "int32"),
    }
    # Layers 1 and 2 see 16 of the 32 tokens.
    encoder(inputs, training=True)["sequence_output"]  # [2, 32, 64]
    ```
    """

    def __init__(self, vocab_size=30522, hidden_size=768, num_layers=12, num_attention_heads=12,
                 inner_dim=3072, max_sequence_length=512, type_vocab_size=2, output_dropout=0.1,
                 attention_dropout=0.1, initializer_range=0.02, hidden_activation="gelu", token_keep_k=256,
                 token_random_keep_k=0, token_loss_init_value=10.0, token_loss_beta=0.995,
                 token_allow_list=(100, 101, 102, 103),
                 token_deny_list=(0,), first_drop_layer=None, last_drop_layer=None, token_selection="loss",
                 token_keep_k_schedule=(), token_full_step_every=0, token_consistency_weight=0.0,
                 dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        arguments = locals()  # every constructor argument by name
        config = {key: arguments[key] for key in _CONFIG_KEYS}
        config.update(token_allow_list=tuple(token_allow_list), token_deny_list=tuple(token_deny_list))
        schedule = checked_schedule(config)

        # === Layers ===
        def initializer():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        (self.token_embedding, self.position_embedding, self.segment_embedding,
         self.embeddings_layer_norm, self.embeddings_dropout) = _embedding_layers(config, initializer, dtype)
        self.transformer_layers = _transformer_blocks(config, initializer, dtype)
        # TensorFlow checkpoints follow attributes, not lists: name each
        # block so `tf.train.Checkpoint(model=...)` reaches its weights.
        for i, block in enumerate(self.transformer_layers):
            setattr(self, f"transformer_layer_{i}", block)
        self.pooled_dense = keras.layers.Dense(
            hidden_size, activation="tanh", kernel_initializer=initializer(), name="pooled_dense", dtype=dtype
        )
        self.token_importance = self.token_frequency = None
        if schedule.dropping:
            for name, value in _token_dropping_layers(config, dtype).items():
                setattr(self, name, value)

        # === Config ===
        config.update(first_drop_layer=schedule.first_drop_layer, last_drop_layer=schedule.last_drop_layer,
                      token_keep_k_schedule=schedule.stages,
                      token_consistency_weight=schedule.consistency_weight)
        for key, value in config.items():
            setattr(self, key, value)
        self.schedule = schedule
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

    # === What the encoder tells others (see `TokenSchedule`) ===
    @property
    def dropping(self):
        return self.schedule.dropping

    def kept_fraction(self, seq_length, first_step=None, last_step=None):
        """`TokenSchedule.kept_fraction`."""
        return self.schedule.kept_fraction(seq_length, first_step, last_step)

    @property
    def training_modes(self):
        """`TokenSchedule.modes`: the `(keep_k, full)` of each branch a
        training step may take."""
        return self.schedule.modes

    def training_mode_index(self, step):
        """`TokenSchedule.mode_index`: the branch of training `step`."""
        return self.schedule.mode_index(step)

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

    # === Forward ===
    def _embed(self, word_ids, type_ids, training):
        x = self.token_embedding(word_ids)
        x = x + self.position_embedding(x) + self.segment_embedding(type_ids)
        x = self.embeddings_layer_norm(x)
        return self.embeddings_dropout(x, training=training)

    def call(self, inputs, training=None, keep_k=None, full=False):
        word_ids, mask, type_ids = _checked_inputs(inputs, self.max_sequence_length)
        valid = ops.logical_and(
            input_checks.check_range("input_word_ids", word_ids, self.vocab_size),
            input_checks.check_range("input_type_ids", type_ids, self.type_vocab_size),
        )
        x = input_checks.poison_invalid(self._embed(word_ids, type_ids, training), valid)
        if self.dropping and training and not full:
            encoder_outputs = self._blocks_with_dropping(
                x, word_ids, mask, training, self.token_keep_k if keep_k is None else keep_k
            )
        else:
            encoder_outputs = self._blocks(x, self.transformer_layers, ops.expand_dims(mask, 1), training)
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
        kept_outputs = [kept] + self._blocks(kept, blocks[first + 1 : last + 1], kept_mask, training)
        encoder_outputs += [self.merge_tokens(k, dropped, keep, drop) for k in kept_outputs]
        return encoder_outputs + self._blocks(encoder_outputs[-1], blocks[last + 1 :], full_mask, training)

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update({key: getattr(self, key) for key in _CONFIG_KEYS})
        # Sequences as lists, as JSON keeps them.
        config.update(
            token_allow_list=list(self.token_allow_list),
            token_deny_list=list(self.token_deny_list),
            token_keep_k_schedule=[list(stage) for stage in self.token_keep_k_schedule],
        )
        return config
