import keras
import numpy as np
import pytest
from official.core import exp_factory

from conftest import tiny_encoder
from official_tokendrop.core import experiment_configs  # noqa: F401
from official_tokendrop.core import optimization
from official_tokendrop.models import BertPretrainer


def _config(**overrides):
    params = exp_factory.get_exp_config("token_drop_bert/demo")  # lr 1e-3, 300 steps, warm-up 30
    params.override({"trainer": {"optimizer_config": overrides}}, is_strict=True)
    return params.trainer.optimizer_config


def test_warmup_then_linear_decay_values():
    schedule = optimization.learning_rate_schedule(_config())
    # Linear decay from 1e-3 at step 0 to 0 at 300, and a linear ramp to
    # its step-30 value (9e-4) during the first 30 steps.
    expected = {0: 0.0, 15: 4.5e-4, 30: 9e-4, 150: 5e-4, 300: 0.0}
    for step, value in expected.items():
        assert float(schedule(step)) == pytest.approx(value, abs=1e-9)


def test_schedule_round_trips_through_config():
    schedule = optimization.learning_rate_schedule(_config())
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    for step in (0, 10, 100):
        assert float(clone(step)) == pytest.approx(float(schedule(step)))


def test_layer_norm_and_bias_are_excluded_from_weight_decay():
    model = BertPretrainer(tiny_encoder())
    variables = model.optimized_variables()
    optimizer = optimization.build_optimizer(_config(), variables)
    optimizer.build(variables)
    decayed = {v.path for v in variables if optimizer._use_weight_decay(v)}
    assert decayed and all("layer_norm" not in p and "bias" not in p for p in decayed)
    assert any(p.endswith("kernel") for p in decayed)
    assert optimizer.weight_decay == pytest.approx(0.01)
    assert optimizer.global_clipnorm == pytest.approx(1.0)
    # One AdamW step with zero gradients only decays the decayed variables.
    before = {v.path: np.array(v.numpy()) for v in variables}
    optimizer.iterations.assign(150)  # learning rate 5e-4
    optimizer.apply([keras.ops.zeros_like(v) for v in variables], variables)
    for v in variables:
        changed = not np.array_equal(before[v.path], v.numpy())
        assert changed == (v.path in decayed and np.any(before[v.path] != 0))


def test_unsupported_optimizer_is_refused():
    with pytest.raises(ValueError, match="optimizer.type 'sgd' is not supported"):
        optimization.build_optimizer(_config(optimizer={"type": "sgd"}), [])


def test_every_adamw_key_reaches_the_optimizer_or_is_refused():
    built = optimization.build_optimizer(_config(optimizer={"adamw": {
        "amsgrad": True, "clipvalue": 0.5, "gradient_clip_norm": 0.0, "beta_1": 0.8, "epsilon": 1e-6}}), [])
    assert (built.amsgrad, built.clipvalue, built.beta_1, built.epsilon) == (True, 0.5, 0.8, 1e-6)
    assert built.global_clipnorm is None and built.clipnorm is None
    built = optimization.build_optimizer(_config(optimizer={"adamw": {"clipnorm": 2.0, "gradient_clip_norm": 0.0}}), [])
    assert built.clipnorm == 2.0
    assert optimization.build_optimizer(_config(), []).global_clipnorm == 1.0  # gradient_clip_norm
    key = "trainer.optimizer_config.optimizer.adamw"
    for options, message in [
        ({"global_clipnorm": 3.0}, f"{key}.gradient_clip_norm and {key}.global_clipnorm are all set"),
        ({"include_in_weight_decay": ["dense"]}, f"{key}.include_in_weight_decay is not supported"),
    ]:
        with pytest.raises(ValueError, match=message):
            optimization.build_optimizer(_config(optimizer={"adamw": options}), [])
    with pytest.raises(ValueError, match=r"trainer.optimizer_config.ema is not supported"):
        optimization.build_optimizer(_config(ema={"average_decay": 0.99}), [])
