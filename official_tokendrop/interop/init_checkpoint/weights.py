"""The copy into our pretrainer: a plan of (variable, value) pairs, every
shape checked before any value is assigned."""

import numpy as np

from official_tokendrop.errors import DataError
from official_tokendrop.interop.init_checkpoint.source import architecture_of, check_fits
from official_tokendrop.interop.keras_hub import (
    BACKBONE_ACTIVATION,
    BACKBONE_ARGUMENTS,
    layer_pairs,
    masked_lm_head_variables,
)


def check_plan(plan, what):
    """Refuses (one `DataError`, naming `what`) a value whose shape is not
    its variable's."""
    for variable, value in plan:
        if tuple(variable.shape) != tuple(np.shape(value)):
            raise DataError(f"{what}: {variable.path} has shape {tuple(variable.shape)} but the source's "
                            f"value has {tuple(np.shape(value))}.")


def apply(plan):
    for variable, value in plan:
        variable.assign(np.asarray(value, dtype=variable.dtype))


def encoder_plan(backbone, encoder, include_pooler=True):
    """The plan that gives `encoder` the keras-hub `backbone`'s weights."""
    plan = []
    for ours, theirs in layer_pairs(encoder, backbone, include_pooler):
        if len(ours.weights) != len(theirs.weights):
            raise DataError(f"{theirs.name}: the source has {len(theirs.weights)} weights, ours "
                            f"{len(ours.weights)}.")
        plan += zip(ours.weights, theirs.get_weights())
    return plan


def head_plan(head, arrays):
    """The plan that gives the masked-LM `head` the arrays `arrays`
    (`masked_lm_head_variables`' keys)."""
    return [(variable, arrays[k]) for k, variable in masked_lm_head_variables(head).items()]


def head_arrays_of(head):
    """A keras-hub `MaskedLMHead`'s own values, as `head_plan` takes them."""
    return {k: np.asarray(v) for k, v in masked_lm_head_variables(head).items()}


def backbone_architecture(settings):
    """The architecture, by our encoder's names, of a keras-hub
    `BertBackbone` whose config (`get_config()`, or a preset's
    config.json `config`) is `settings`."""
    return {**{ours: settings.get(theirs) for ours, theirs in BACKBONE_ARGUMENTS.items()},
            "hidden_activation": BACKBONE_ACTIVATION}


def from_keras_hub(backbone, encoder, include_pooler=True):
    """Copies a keras-hub `BertBackbone`'s weights into our `encoder` (the
    inverse of `to_keras_hub`); returns how many variables it set.

    The architecture is checked first (a `ConfigurationError` names each
    differing experiment key; the backbone computes GELU's tanh form, so
    an encoder with `hidden_activation="gelu_exact"` is refused); nothing
    changes unless all fit. The token importance table is not a BERT
    weight and is left as it is. `include_pooler=False` leaves the pooler
    as it is.
    """
    check_fits(backbone_architecture(backbone.get_config()), architecture_of(encoder), backbone.name)
    plan = encoder_plan(backbone, encoder, include_pooler)
    check_plan(plan, backbone.name)
    apply(plan)
    return len(plan)
