"""TensorFlow steps of `BertPretrainer`: variables change in place."""

import tensorflow as tf


def forward_backward(model, features, mlm_weight_total):
    """(loss, gradients of the optimized variables, per-prediction statistics)."""
    with tf.GradientTape() as tape:
        outputs = model(features, training=True)
        loss, statistics = model._pretraining_losses(features, outputs, mlm_weight_total)
        scaled = model.optimizer.scale_loss(loss)
    grads = tape.gradient(scaled, model.optimized_variables())
    # Embedding lookups give IndexedSlices with one row per token, so an
    # id repeats. Keras' TF optimizers square those rows before summing
    # them (Adam's second moment becomes sum(g_i^2), not (sum g_i)^2),
    # which inflates the segment embedding's steps by up to sqrt(batch
    # tokens). Dense gradients make the update the one JAX computes.
    grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
    return loss, grads, statistics


def train_step(model, data, replica_jit=False):
    """One training step on one replica's batch; returns the metrics.

    `replica_jit`: XLA-compile this replica's forward/backward only, for
    multi-replica runs, where the whole replicated step cannot be one XLA
    function (keras-team/keras#19005) and the table's all-reduce must run
    outside it.
    """
    features = model.features_of(data)
    step = tf.function(forward_backward, jit_compile=True) if replica_jit else forward_backward
    loss, grads, statistics = step(model, features, model._global_weight_total(features))
    model._apply_updates(features, grads, statistics)
    return model._update_metrics(features, statistics, loss)


def test_step(model, data):
    return model._evaluate(model.features_of(data))
