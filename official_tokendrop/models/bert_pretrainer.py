"""BERT pretraining model: encoder + masked-LM head (+ next-sentence head)."""

import keras
from keras import ops
from keras_hub.layers import MaskedLMHead

from official_tokendrop import backend
from official_tokendrop.utils import distribute, input_checks
from official_tokendrop.errors import InputError, InputTypeError, MissingInputError
from official_tokendrop.models.token_drop_bert_encoder import ENCODER_INPUTS

MLM_INPUTS = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")


def _check_features(features, next_sentence):
    if not isinstance(features, dict):
        raise InputTypeError(
            "BertPretrainer takes a dict of features; got "
            f"{type(features).__name__}."
        )
    required = ENCODER_INPUTS + MLM_INPUTS + (("next_sentence_labels",) if next_sentence else ())
    missing = [k for k in required if k not in features]
    if missing:
        raise MissingInputError(
            f"BertPretrainer inputs lack {missing}; got keys "
            f"{sorted(features)}."
        )
    shapes = {k: tuple(features[k].shape) for k in MLM_INPUTS}
    if len(set(shapes.values())) != 1 or len(shapes[MLM_INPUTS[0]]) != 2:
        raise InputError(
            f"Masked-LM inputs must all be [batch, predictions]; got {shapes}."
        )


def top_prediction_is(labels, logits):
    """1.0 where `labels == argmax(logits, -1)` (first maximum), else 0.0.

    Two plain reductions (the max, then the first index holding it) in
    place of argmax's paired (value, index) reduction; same result, and a
    NaN row never counts as correct.
    """
    vocab_size = ops.shape(logits)[-1]
    largest = ops.max(logits, axis=-1, keepdims=True)
    indices = ops.arange(vocab_size, dtype="int32")
    first = ops.min(ops.where(logits == largest, indices, vocab_size), axis=-1)
    return ops.cast(first == ops.cast(labels, "int32"), "float32")


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

    Training (`fit`, TensorFlow or JAX backend): the loss is the weighted
    mean MLM cross-entropy over the global batch (plus the mean
    next-sentence loss). After each step the encoder's token importance
    table moves toward the same forward pass's MLM losses. Under a
    multi-replica strategy with `jit_compile=True`, only each replica's
    forward/backward is XLA-compiled: Keras would otherwise compile the
    whole replicated step into one XLA function, which fails
    (keras-team/keras#19005), and the table's all-reduce must run outside.

    Metrics: `loss`, `mlm_loss`, `mlm_accuracy` (weighted), and
    `next_sentence_accuracy` when enabled.

    `dtype` (e.g. `"mixed_bfloat16"`) is the heads' dtype policy (give the
    encoder the same); losses, metrics and the importance table stay float32.
    """

    def __init__(self, encoder, next_sentence=False, dtype=None, **kwargs):
        # The pretrainer holds no weights of its own and stays float32:
        # a mixed policy here would open an autocast scope around the heads,
        # and keras-hub's MaskedLMHead (autocast=False) would then add its
        # float32 bias to bf16 logits. The heads carry `dtype` instead.
        super().__init__(dtype="float32", **kwargs)
        self.encoder = encoder
        self.next_sentence = bool(next_sentence)
        self.masked_lm_head = MaskedLMHead(
            token_embedding=encoder.token_embedding,
            intermediate_activation="gelu",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=encoder.initializer_range),
            dtype=dtype,
            name="mlm_head",
        )
        self.masked_lm_head.build((None, None, encoder.hidden_size))
        self.next_sentence_head = None
        if self.next_sentence:
            self.next_sentence_head = keras.layers.Dense(
                2,
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=encoder.initializer_range),
                dtype=dtype,
                name="next_sentence",
            )
            self.next_sentence_head.build((None, encoder.hidden_size))

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.mlm_accuracy = keras.metrics.Mean(name="mlm_accuracy")
        self.next_sentence_accuracy = (
            keras.metrics.Mean(name="next_sentence_accuracy") if self.next_sentence else None
        )
        self._replica_jit = False
        self.built = True

    # === Forward ===
    def call(self, inputs, training=None, keep_k=None, full=False):
        """`keep_k` and `full` choose the encoder's training mode (see
        `TokenDropBertEncoder.training_modes`). A full training step with a
        consistency weight also runs the `keep_k` dropping pass and returns
        its logits as `mlm_logits_dropped`."""
        _check_features(inputs, self.next_sentence)
        encoder_inputs = {k: inputs[k] for k in ENCODER_INPUTS}
        encoded = self.encoder(encoder_inputs, training=training, keep_k=keep_k, full=full)
        positions = ops.cast(inputs["masked_lm_positions"], "int32")
        outputs = {"mlm_logits": self._mlm_logits(encoded, positions)}
        if training and full and self.encoder.token_consistency_weight:
            dropped = self.encoder(encoder_inputs, training=training, keep_k=keep_k)
            outputs["mlm_logits_dropped"] = self._mlm_logits(dropped, positions)
        if self.next_sentence:
            outputs["next_sentence"] = self.next_sentence_head(encoded["pooled_output"])
        return outputs

    def _mlm_logits(self, encoded, positions):
        sequence = encoded["sequence_output"]
        valid = input_checks.check_range("masked_lm_positions", positions, ops.shape(sequence)[1])
        # Poisoning the [B, S, H] states costs less than the [B, P, vocab]
        # logits and still makes every logit of a bad example NaN.
        sequence = input_checks.poison_invalid(sequence, valid)
        return self.masked_lm_head(sequence, mask_positions=positions)

    # === Training ===

    def compile(self, optimizer="adam", jit_compile="auto", **kwargs):
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        tensorflow = keras.backend.backend() == "tensorflow"
        replicas = self.distribute_strategy.num_replicas_in_sync if tensorflow else 1
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

    # The backend modules' steps call these public parts in turn, as Keras'
    # trainers call a model's compute_loss and compute_metrics.
    def pretraining_losses(self, features, outputs, mlm_weight_total):
        """Returns (loss to minimise, per-prediction statistics).

        `mlm_weight_total`: the sum of `masked_lm_weights` over the global
        batch (`global_weight_total`), which the MLM losses are divided by.

        The statistics are what the metrics and the importance table read:
        `mlm_loss` and `mlm_correct` [B, P] (and `next_sentence_correct`
        [B]). Returning these instead of the [B, P, vocab] logits keeps the
        logits inside the compiled forward pass.
        """
        weights = ops.cast(features["masked_lm_weights"], "float32")
        logits = ops.cast(outputs["mlm_logits"], "float32")
        per_position = keras.losses.sparse_categorical_crossentropy(
            features["masked_lm_ids"], logits, from_logits=True
        )
        loss = ops.sum(per_position * weights) / mlm_weight_total
        statistics = {
            "mlm_loss": per_position,
            "mlm_correct": top_prediction_is(features["masked_lm_ids"], logits),
        }
        if "mlm_logits_dropped" in outputs:
            # Consistency (ScTD-style hybrid training): KL(full || dropped)
            # of each masked position's prediction, the full pass a fixed
            # target, so the dropping pass learns to predict as the full one.
            target = ops.stop_gradient(ops.softmax(logits, axis=-1))
            dropped = ops.log_softmax(ops.cast(outputs["mlm_logits_dropped"], "float32"), axis=-1)
            kl = ops.sum(target * (ops.log(ops.maximum(target, 1e-30)) - dropped), axis=-1)
            loss = loss + self.encoder.token_consistency_weight * ops.sum(kl * weights) / mlm_weight_total
        if self.next_sentence:
            labels = ops.reshape(features["next_sentence_labels"], [-1])
            nsp_logits = ops.cast(outputs["next_sentence"], "float32")
            nsp = keras.losses.sparse_categorical_crossentropy(
                labels, nsp_logits, from_logits=True
            )
            global_batch = ops.shape(nsp)[0] * distribute.num_replicas_in_sync()
            loss = loss + ops.sum(nsp) / ops.cast(global_batch, "float32")
            statistics["next_sentence_correct"] = top_prediction_is(labels, nsp_logits)
        return loss, {k: ops.stop_gradient(v) for k, v in statistics.items()}

    def global_weight_total(self, features):
        """Sum of `features`' `masked_lm_weights` over all replicas (at
        least 1e-6)."""
        # Dividing by the global weight total makes the summed replica
        # gradients equal the gradient of the global-batch mean exactly.
        (total,) = distribute.cross_replica_sum(
            ops.sum(ops.cast(features["masked_lm_weights"], "float32"))
        )
        return ops.maximum(total, 1e-6)

    def record_statistics(self, features, statistics):
        """Moves the token-selection table (the importance table, or the
        frequency counts) with a batch's `features` and `statistics`."""
        self.encoder.record_mlm_losses(
            features["masked_lm_ids"], statistics["mlm_loss"], features["masked_lm_weights"]
        )
        self.encoder.record_inputs(features["input_word_ids"], features["input_mask"])

    def apply_updates(self, features, grads, statistics):
        """Moves the token-selection table with a step's `statistics`, then
        the optimized weights by `grads`."""
        self.record_statistics(features, statistics)
        self.optimizer.apply(grads, self.optimized_variables())

    def inference_losses(self, features, mlm_weight_total):
        """`pretraining_losses` of the full encoder in inference (no
        dropping, no dropout): what evaluation and the table warm-up read."""
        return self.pretraining_losses(features, self(features, training=False), mlm_weight_total)

    def evaluate_features(self, features):
        """Runs the full encoder on `features` (no dropping) and adds the
        losses to the metrics; returns the metrics."""
        loss, statistics = self.inference_losses(features, self.global_weight_total(features))
        return self.update_metrics(features, statistics, loss)

    @staticmethod
    def features_of(data):
        """The feature dict of a batch given as `features` or `(features, ...)`."""
        return data[0] if isinstance(data, tuple) else data

    # Keras' fit calls these; the backend modules run the steps (the
    # trainer calls them directly, choosing its own XLA scope).
    def train_step(self, *args):
        if keras.backend.backend() == "tensorflow":
            return backend.steps().train_step(self, *args, replica_jit=self._replica_jit)
        return backend.steps().train_step(self, *args)

    def test_step(self, *args):
        return backend.steps().test_step(self, *args)

    def update_metrics(self, features, statistics, loss):
        """Adds a step's `loss` and per-prediction `statistics` to the
        metrics; returns `{name: result}` of every metric."""
        weights = ops.cast(features["masked_lm_weights"], "float32")
        # Each replica holds its share of the global loss; the replicas'
        # mean times their number is the global value.
        self.loss_tracker.update_state(loss * distribute.num_replicas_in_sync())
        self.mlm_loss_tracker.update_state(statistics["mlm_loss"], sample_weight=weights)
        self.mlm_accuracy.update_state(statistics["mlm_correct"], sample_weight=weights)
        if self.next_sentence:
            self.next_sentence_accuracy.update_state(statistics["next_sentence_correct"])
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
                "dtype": keras.dtype_policies.serialize(self.masked_lm_head.dtype_policy),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
