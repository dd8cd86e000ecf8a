"""TensorFlow steps of `BertPretrainer`: variables change in place."""

import tensorflow as tf


def forward_backward(model, features, mlm_weight_total, keep_k=None, full=False):
    """(loss, gradients of the optimized variables, per-prediction statistics)."""
    with tf.GradientTape() as tape:
        outputs = model(features, training=True, keep_k=keep_k, full=full)
        loss, statistics = model.pretraining_losses(features, outputs, mlm_weight_total)
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

    The encoder's training mode of this step (schedule stage, full step)
    picks one of its static-shape branches; with one mode there is no
    branch at all.

    `replica_jit`: XLA-compile this replica's forward/backward only, for
    multi-replica runs, where the whole replicated step cannot be one XLA
    function (keras-team/keras#19005) and the table's all-reduce must run
    outside it.
    """
    features = model.features_of(data)
    step = tf.function(forward_backward, jit_compile=True) if replica_jit else forward_backward
    total = model.global_weight_total(features)
    modes = model.encoder.training_modes
    branches = [lambda mode=mode: step(model, features, total, *mode) for mode in modes]
    if len(branches) == 1:
        loss, grads, statistics = branches[0]()
    else:
        index = model.encoder.training_mode_index(model.optimizer.iterations)
        loss, grads, statistics = tf.switch_case(index, branches)
    model.apply_updates(features, grads, statistics)
    return model.update_metrics(features, statistics, loss)


def table_warmup_step(model, data, replica_jit=False):
    """One batch of the token table's warm-up (`task.token_table_warmup_steps`)
    on one replica: the full encoder's inference pass and, from its MLM
    losses, the table update a training step makes; no gradient and no
    change to the weights, the optimizer or the metrics. Returns its loss
    (this replica's share of the global batch's mean MLM loss).

    Inference rather than a training pass: the table reads the model's own
    losses without dropout noise, and no seed generator advances, so the
    training that follows draws the masks of a run without the warm-up.
    `replica_jit` as in `train_step`.
    """
    features = model.features_of(data)
    losses = tf.function(model.inference_losses, jit_compile=True) if replica_jit else model.inference_losses
    loss, statistics = losses(features, model.global_weight_total(features))
    model.record_statistics(features, statistics)
    return {"loss": loss}


def test_step(model, data):
    return model.evaluate_features(model.features_of(data))
