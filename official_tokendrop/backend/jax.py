"""JAX steps of `BertPretrainer`: a step maps variable values to new values."""

import jax
import keras


def _state_variables(model, with_optimizer):
    groups = [model.trainable_variables, model.non_trainable_variables]
    if with_optimizer:
        groups.append(model.optimizer.variables)
    return groups + [model.metrics_variables]


def _run_stateless(model, state, with_optimizer, function):
    """Runs `function()` on `state`'s values; returns (result, new state)."""
    groups = _state_variables(model, with_optimizer)
    mapping = [
        (variable, value)
        for variables, values in zip(groups, state)
        for variable, value in zip(variables, values)
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        result = function()
    new_state = tuple([scope.get_current_value(variable) for variable in variables] for variables in groups)
    return result, new_state


def train_step(model, state, data):
    trainable, non_trainable, optimizer_values, metric_values = state
    features = model.features_of(data)
    weight_total = model.global_weight_total(features)

    optimizer_state = list(zip(model.optimizer.variables, optimizer_values))

    def scaled_loss(trainable, non_trainable, keep_k, full):
        outputs, non_trainable = model.stateless_call(
            trainable, non_trainable, features, training=True, keep_k=keep_k, full=full)
        loss, statistics = model.pretraining_losses(features, outputs, weight_total)
        with keras.StatelessScope(state_mapping=optimizer_state):
            scaled = model.optimizer.scale_loss(loss)
        return scaled, (loss, statistics, non_trainable)

    # One branch per training mode of the encoder (schedule stage, full
    # step); the step's mode picks one.
    branches = [
        lambda trainable, non_trainable, mode=mode: jax.value_and_grad(scaled_loss, has_aux=True)(
            trainable, non_trainable, *mode)
        for mode in model.encoder.training_modes
    ]
    if len(branches) == 1:
        result = branches[0](trainable, non_trainable)
    else:
        with keras.StatelessScope(state_mapping=optimizer_state):
            index = model.encoder.training_mode_index(model.optimizer.iterations.value)
        result = jax.lax.switch(index, branches, trainable, non_trainable)
    (_, (loss, statistics, non_trainable)), grads = result
    optimized = {id(v) for v in model.optimized_variables()}
    grads = [g for v, g in zip(model.trainable_variables, grads) if id(v) in optimized]

    def updates():
        model.apply_updates(features, grads, statistics)
        return model.update_metrics(features, statistics, loss)

    state = (trainable, non_trainable, optimizer_values, metric_values)
    return _run_stateless(model, state, True, updates)


def test_step(model, state, data):
    return _run_stateless(model, state, False, lambda: model.evaluate_features(model.features_of(data)))
