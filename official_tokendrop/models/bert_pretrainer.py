"""BERT pretraining model: encoder + masked-LM head (+ next-sentence head)."""

import keras
from keras import ops
from keras_hub.layers import MaskedLMHead

from official_tokendrop import distribute, input_checks
from official_tokendrop.models.token_drop_bert_encoder import ENCODER_INPUTS

MLM_INPUTS = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")


@keras.saving.register_keras_serializable(package="official_tokendrop")
class BertPretrainer(keras.Model):
    """Masked-LM pretraining around a `TokenDropBertEncoder`.

    The masked-LM head is keras-hub's `MaskedLMHead` (dense + gelu + layer
    norm, output projection tied to the word embeddings, output bias) with
    the settings of `keras_hub.models.BertMaskedLM`, so its weights move to
    that model unchanged.

    Inputs: the Model Garden feature dict: int32 [B, S] `input_word_ids`,
    `input_mask`, `input_type_ids`; int32 [B, P] `masked_lm_positions`,
    `masked_lm_ids`; float [B, P] `masked_lm_weights`; with
    `next_sentence=True` also int [B] or [B, 1] `next_sentence_labels`.

    Outputs: dict with `mlm_logits` [B, P, vocab] and, with
    `next_sentence=True`, `next_sentence` logits [B, 2].

    Training (`fit`, TensorFlow backend): the loss is the weighted mean MLM
    cross-entropy over the global batch (plus the mean next-sentence loss).
    After each step the encoder's token importance table moves toward the
    per-position MLM losses of the same forward pass. Under a multi-replica
    strategy with `jit_compile=True`, only each replica's forward/backward
    is XLA-compiled: Keras would otherwise compile the whole replicated step
    into one XLA function, which fails (keras-team/keras#19005), and the
    table's all-reduce must run outside it.

    Metrics: `loss`, `mlm_loss`, `mlm_accuracy` (weighted), and
    `next_sentence_accuracy` when enabled.
    """

    def __init__(self, encoder, next_sentence=False, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.next_sentence = bool(next_sentence)
        self.masked_lm_head = MaskedLMHead(
            token_embedding=encoder.token_embedding,
            intermediate_activation="gelu",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=encoder.initializer_range
            ),
            name="mlm_head",
        )
        self.masked_lm_head.build((None, None, encoder.hidden_size))
        self.next_sentence_head = None
        if self.next_sentence:
            self.next_sentence_head = keras.layers.Dense(
                2,
                kernel_initializer=keras.initializers.TruncatedNormal(
                    stddev=encoder.initializer_range
                ),
                name="next_sentence",
            )
            self.next_sentence_head.build((None, encoder.hidden_size))

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.mlm_accuracy = keras.metrics.SparseCategoricalAccuracy(
            name="mlm_accuracy"
        )
        self.next_sentence_accuracy = (
            keras.metrics.SparseCategoricalAccuracy(name="next_sentence_accuracy")
            if self.next_sentence
            else None
        )
        self._replica_jit = False
        self.built = True

    # === Forward ===
    def _required_inputs(self):
        keys = ENCODER_INPUTS + MLM_INPUTS
        return keys + (("next_sentence_labels",) if self.next_sentence else ())

    def _check_features(self, features):
        if not isinstance(features, dict):
            raise TypeError(
                "BertPretrainer takes a dict of features; got "
                f"{type(features).__name__}."
            )
        missing = [k for k in self._required_inputs() if k not in features]
        if missing:
            raise KeyError(
                f"BertPretrainer inputs lack {missing}; got keys "
                f"{sorted(features)}."
            )
        shapes = {k: tuple(features[k].shape) for k in MLM_INPUTS}
        if len(set(shapes.values())) != 1 or len(shapes[MLM_INPUTS[0]]) != 2:
            raise ValueError(
                f"Masked-LM inputs must all be [batch, predictions]; got {shapes}."
            )

    def call(self, inputs, training=None):
        self._check_features(inputs)
        encoded = self.encoder(
            {k: inputs[k] for k in ENCODER_INPUTS}, training=training
        )
        sequence = encoded["sequence_output"]
        positions = ops.cast(inputs["masked_lm_positions"], "int32")
        valid = input_checks.check_range(
            "masked_lm_positions", positions, ops.shape(sequence)[1]
        )
        logits = self.masked_lm_head(sequence, mask_positions=positions)
        outputs = {"mlm_logits": input_checks.poison_invalid(logits, valid)}
        if self.next_sentence:
            outputs["next_sentence"] = self.next_sentence_head(
                encoded["pooled_output"]
            )
        return outputs

    # === Training ===
    def compile(self, optimizer="adam", jit_compile="auto", **kwargs):
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        replicas = self.distribute_strategy.num_replicas_in_sync
        self._replica_jit = bool(self.jit_compile) and replicas > 1
        if self._replica_jit:
            self.jit_compile = False

    def compile_from_config(self, config):
        # Keras skips models whose compile() is overridden; ours only adds
        # the per-replica XLA switch, so restoring through it is safe.
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.optimized_variables())

    def optimized_variables(self):
        """Trainable variables that the loss reaches.

        Without a next-sentence head nothing reads the pooler, as in the
        reference pretrainer; leaving it out avoids empty gradients.
        """
        if self.next_sentence:
            return self.trainable_variables
        pooler = {id(v) for v in self.encoder.pooled_dense.trainable_variables}
        return [v for v in self.trainable_variables if id(v) not in pooler]

    def _pretraining_losses(self, features, outputs, mlm_weight_total):
        """Returns (loss to minimise, per-position MLM losses [B, P])."""
        weights = ops.cast(features["masked_lm_weights"], "float32")
        per_position = keras.losses.sparse_categorical_crossentropy(
            features["masked_lm_ids"],
            ops.cast(outputs["mlm_logits"], "float32"),
            from_logits=True,
        )
        loss = ops.sum(per_position * weights) / mlm_weight_total
        if self.next_sentence:
            labels = ops.reshape(features["next_sentence_labels"], [-1])
            nsp = keras.losses.sparse_categorical_crossentropy(
                labels,
                ops.cast(outputs["next_sentence"], "float32"),
                from_logits=True,
            )
            global_batch = ops.shape(nsp)[0] * distribute.num_replicas_in_sync()
            loss = loss + ops.sum(nsp) / ops.cast(global_batch, "float32")
        return loss, per_position

    def _forward_backward(self, features, mlm_weight_total):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = self(features, training=True)
            loss, per_position = self._pretraining_losses(features, outputs, mlm_weight_total)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.optimized_variables())
        return loss, grads, outputs, ops.stop_gradient(per_position)

    def _global_weight_total(self, features):
        # Dividing by the global weight total makes the summed replica
        # gradients equal the gradient of the global-batch mean exactly.
        (total,) = distribute.cross_replica_sum(
            ops.sum(ops.cast(features["masked_lm_weights"], "float32"))
        )
        return ops.maximum(total, 1e-6)

    def train_step(self, data):
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError(
                "BertPretrainer.fit runs on the TensorFlow backend."
            )
        import tensorflow as tf

        features = data[0] if isinstance(data, tuple) else data
        forward_backward = self._forward_backward
        if self._replica_jit:
            forward_backward = tf.function(forward_backward, jit_compile=True)
        loss, grads, outputs, per_position = forward_backward(
            features, self._global_weight_total(features)
        )
        if self.encoder.token_importance is not None:
            self.encoder.token_importance.update(
                features["masked_lm_ids"],
                per_position,
                features["masked_lm_weights"],
            )
        self.optimizer.apply(grads, self.optimized_variables())
        return self._update_metrics(features, outputs, per_position, loss)

    def test_step(self, data):
        features = data[0] if isinstance(data, tuple) else data
        outputs = self(features, training=False)
        loss, per_position = self._pretraining_losses(
            features, outputs, self._global_weight_total(features)
        )
        return self._update_metrics(features, outputs, per_position, loss)

    def _update_metrics(self, features, outputs, per_position, loss):
        weights = ops.cast(features["masked_lm_weights"], "float32")
        # Each replica holds its share of the global loss; the replicas'
        # mean times their number is the global value.
        self.loss_tracker.update_state(loss * distribute.num_replicas_in_sync())
        self.mlm_loss_tracker.update_state(per_position, sample_weight=weights)
        self.mlm_accuracy.update_state(
            features["masked_lm_ids"], outputs["mlm_logits"], sample_weight=weights
        )
        if self.next_sentence:
            self.next_sentence_accuracy.update_state(
                ops.reshape(features["next_sentence_labels"], [-1]),
                outputs["next_sentence"],
            )
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        metrics = [self.loss_tracker, self.mlm_loss_tracker, self.mlm_accuracy]
        if self.next_sentence:
            metrics.append(self.next_sentence_accuracy)
        return metrics

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "next_sentence": self.next_sentence,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(
            config["encoder"]
        )
        return cls(**config)
