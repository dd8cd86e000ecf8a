"""Keras 3 optimizers from Model Garden `OptimizationConfig`s.

Model Garden's `official.modeling.optimization` builds tf_keras optimizers,
which Keras 3 models reject; its config dataclasses are reused as they are.
Supported: optimizer `adamw` (or `adam`), learning rate `polynomial` or
`constant`, warm-up `polynomial` or none.
"""

import keras

from official_tokendrop.errors import ConfigurationError


@keras.saving.register_keras_serializable(package="official_tokendrop")
class PolynomialWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Model Garden's polynomial warm-up in front of another schedule.

    For `step < warmup_steps`: `after(warmup_steps) * (step /
    warmup_steps) ** power`; then `after(step)`.
    """

    def __init__(self, after_warmup, warmup_steps, power=1.0):
        self.after_warmup = after_warmup
        self.warmup_steps = int(warmup_steps)
        self.power = float(power)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = float(max(self.warmup_steps, 1))
        peak = self.after_warmup(warmup)
        warming = peak * keras.ops.power(step / warmup, self.power)
        return keras.ops.where(step < self.warmup_steps, warming, self.after_warmup(step))

    def get_config(self):
        return {
            "after_warmup": keras.saving.serialize_keras_object(self.after_warmup),
            "warmup_steps": self.warmup_steps,
            "power": self.power,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["after_warmup"] = keras.saving.deserialize_keras_object(config["after_warmup"])
        return cls(**config)


def learning_rate_schedule(config):
    """A Keras schedule from `optimizer_config.learning_rate` / `.warmup`."""
    rate = config.learning_rate
    if rate.type == "polynomial":
        p = rate.polynomial
        if p.cycle:
            raise ConfigurationError("learning_rate.polynomial.cycle=true is not supported.")
        schedule = keras.optimizers.schedules.PolynomialDecay(
            p.initial_learning_rate, p.decay_steps, p.end_learning_rate, p.power
        )
    elif rate.type == "constant":
        schedule = keras.optimizers.schedules.PolynomialDecay(
            rate.constant.learning_rate, 1, rate.constant.learning_rate
        )
    else:
        raise ConfigurationError(
            f"learning_rate.type {rate.type!r} is not supported; use polynomial or constant."
        )
    warmup = config.warmup
    if warmup.type == "polynomial" and warmup.polynomial.warmup_steps:
        schedule = PolynomialWarmup(
            schedule, warmup.polynomial.warmup_steps, warmup.polynomial.power
        )
    elif warmup.type not in (None, "polynomial"):
        raise ConfigurationError(f"warmup.type {warmup.type!r} is not supported; use polynomial.")
    return schedule


def build_optimizer(config, variables):
    """Keras AdamW with weight decay off for LayerNorm and bias variables.

    `exclude_from_weight_decay` holds substrings of variable paths (the
    reference's `LayerNorm`, `layer_norm`, `bias`); Keras matches only short
    variable names, so the excluded variables are listed explicitly.
    """
    kind = config.optimizer.type
    if kind not in ("adamw", "adam"):
        raise ConfigurationError(f"optimizer.type {kind!r} is not supported; use adamw or adam.")
    options = config.optimizer.get()
    key = f"trainer.optimizer_config.optimizer.{kind}"
    # Keys Keras' AdamW has no counterpart for are refused when set.
    for name in ("include_in_weight_decay",):
        if getattr(options, name, None):
            raise ConfigurationError(f"{key}.{name} is not supported; list the exclusions in "
                                     "exclude_from_weight_decay.")
    if config.ema is not None:
        raise ConfigurationError("trainer.optimizer_config.ema is not supported (no weight averaging).")
    decay = getattr(options, "weight_decay_rate", 0.0) or 0.0
    # Model Garden's AdamW clips the global norm by gradient_clip_norm; its
    # base config also has global_clipnorm, clipnorm and clipvalue. Keras
    # applies one clip, so setting two is refused.
    clips = {name: getattr(options, name, None) or None
             for name in ("gradient_clip_norm", "global_clipnorm", "clipnorm", "clipvalue")}
    chosen = [name for name, value in clips.items() if value]
    if len(chosen) > 1:
        raise ConfigurationError(f"{' and '.join(f'{key}.{n}' for n in chosen)} are all set; "
                                 "the optimizer applies one clip, set one.")
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate_schedule(config),
        weight_decay=decay,
        beta_1=options.beta_1,
        beta_2=options.beta_2,
        epsilon=options.epsilon,
        amsgrad=options.amsgrad,
        clipnorm=clips["clipnorm"],
        clipvalue=clips["clipvalue"],
        global_clipnorm=clips["gradient_clip_norm"] or clips["global_clipnorm"],
    )
    names = getattr(options, "exclude_from_weight_decay", None) or []
    excluded = [v for v in variables if any(n in v.path for n in names)]
    if excluded:
        optimizer.exclude_from_weight_decay(var_list=excluded)
    return optimizer
