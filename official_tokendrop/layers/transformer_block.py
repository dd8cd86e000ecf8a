"""Post-LN transformer block whose queries may be a subset of the tokens."""

import keras

from official_tokendrop.errors import ConfigurationError


@keras.saving.register_keras_serializable(package="official_tokendrop")
class TransformerBlock(keras.layers.Layer):
    """BERT's post-layer-norm encoder block with separate query and memory.

    `call(query, memory)` attends from `query` [B, Tq, H] to `memory`
    [B, Tk, H] (keys and values); with `memory=None` it is self-attention.
    This is what the first token-dropping layer needs: only kept tokens are
    queries, while all tokens are keys/values.

    Sub-layers and their build order match keras-hub's `TransformerEncoder`
    (attention, attention layer norm, feed-forward layer norm, intermediate
    dense, output dense), so `get_weights()` of one is a valid
    `set_weights()` of the other.

    Args:
        num_heads: attention heads; must divide the hidden size.
        intermediate_dim: feed-forward inner size.
        activation: feed-forward activation, a Keras name or function (the
            encoder passes one of `activations.HIDDEN_ACTIVATIONS`).
        output_dropout: dropout after attention and after feed-forward.
        attention_dropout: dropout on attention probabilities.
        layer_norm_epsilon: layer-norm epsilon.
        kernel_initializer, bias_initializer: for every dense kernel/bias.
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        activation="gelu",
        output_dropout=0.0,
        attention_dropout=0.0,
        layer_norm_epsilon=1e-12,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.activation = keras.activations.get(activation)
        self.output_dropout = output_dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = False

    def _initializers(self):
        return {
            "kernel_initializer": self.kernel_initializer.__class__.from_config(
                self.kernel_initializer.get_config()
            ),
            "bias_initializer": self.bias_initializer.__class__.from_config(
                self.bias_initializer.get_config()
            ),
        }

    def build(self, query_shape, memory_shape=None):
        memory_shape = query_shape if memory_shape is None else memory_shape
        hidden_dim = query_shape[-1]
        if hidden_dim % self.num_heads:
            raise ConfigurationError(
                f"hidden size {hidden_dim} is not divisible by "
                f"num_attention_heads {self.num_heads}."
            )
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=hidden_dim // self.num_heads,
            dropout=self.attention_dropout,
            dtype=self.dtype_policy,
            name="self_attention_layer",
            **self._initializers(),
        )
        self.attention.build(query_shape, memory_shape)
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="self_attention_layer_norm",
        )
        self.attention_layer_norm.build(query_shape)
        self.attention_dropout_layer = keras.layers.Dropout(
            self.output_dropout, dtype=self.dtype_policy
        )
        self.feedforward_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="feedforward_layer_norm",
        )
        self.feedforward_layer_norm.build(query_shape)
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            dtype=self.dtype_policy,
            name="feedforward_intermediate_dense",
            **self._initializers(),
        )
        self.intermediate_dense.build(query_shape)
        self.output_dense = keras.layers.Dense(
            hidden_dim,
            dtype=self.dtype_policy,
            name="feedforward_output_dense",
            **self._initializers(),
        )
        self.output_dense.build(tuple(query_shape[:-1]) + (self.intermediate_dim,))
        self.feedforward_dropout_layer = keras.layers.Dropout(
            self.output_dropout, dtype=self.dtype_policy
        )
        self.built = True

    def call(self, query, memory=None, attention_mask=None, training=None):
        """Args:
            query: [B, Tq, H].
            memory: [B, Tk, H] keys/values, or None for self-attention.
            attention_mask: bool/int [B, Tq, Tk]; 1 where a query may attend.
        """
        memory = query if memory is None else memory
        x = self.attention(
            query=query,
            value=memory,
            key=memory,
            attention_mask=attention_mask,
            training=training,
        )
        x = self.attention_dropout_layer(x, training=training)
        x = self.attention_layer_norm(x + query)
        y = self.output_dense(self.intermediate_dense(x))
        y = self.feedforward_dropout_layer(y, training=training)
        return self.feedforward_layer_norm(y + x)

    def compute_output_shape(self, query_shape, memory_shape=None):
        return query_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "activation": keras.activations.serialize(self.activation),
                "output_dropout": self.output_dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config
