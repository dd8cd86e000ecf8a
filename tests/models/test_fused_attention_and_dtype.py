"""Fused attention (keras.ops.dot_product_attention) and the bf16 dtype policy."""

import keras
import numpy as np
import pytest
from keras.src.layers.attention import multi_head_attention

from conftest import batch, encoder_inputs, tiny_encoder
from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder


@pytest.fixture
def attention_calls(monkeypatch):
    """Counts calls of keras.ops.dot_product_attention from MultiHeadAttention."""
    calls = []
    fused = multi_head_attention.ops.dot_product_attention

    def counting(*args, **kwargs):
        calls.append(kwargs.get("mask") is not None)
        return fused(*args, **kwargs)

    monkeypatch.setattr(multi_head_attention.ops, "dot_product_attention", counting)
    return calls


def _explicit_twin(encoder):
    """The same weights on the explicit softmax path (attention dropout > 0
    selects it), with that dropout switched off so outputs must be equal."""
    twin = tiny_encoder(attention_dropout=0.1)
    twin.set_weights(encoder.get_weights())
    for block in twin.transformer_layers:
        block.attention._dropout_layer.rate = 0.0
    return twin


def test_fused_attention_equals_the_explicit_path(attention_calls):
    fused = tiny_encoder(attention_dropout=0.0)
    explicit = _explicit_twin(fused)
    features = batch(batch_size=4, seed=3, min_length=9)
    inputs = encoder_inputs(features)
    for training in (True, False):  # with token dropping, and inference
        del attention_calls[:]
        ours = fused(inputs, training=training)
        # Every block went through the fused op, with the padding mask.
        assert attention_calls == [True] * fused.num_layers
        del attention_calls[:]
        reference = explicit(inputs, training=training)
        assert attention_calls == []
        for key in ("sequence_output", "pooled_output"):
            np.testing.assert_allclose(ours[key], reference[key], atol=1e-5)
    # Padding is honoured on the fused path: changing padded tokens changes
    # nothing at real positions.
    changed = dict(inputs)
    ids = np.array(inputs["input_word_ids"])
    ids[np.array(inputs["input_mask"]) == 0] = 7
    changed["input_word_ids"] = ids
    real = np.array(inputs["input_mask"], bool)
    for training in (True, False):
        a = np.asarray(fused(inputs, training=training)["sequence_output"])
        b = np.asarray(fused(changed, training=training)["sequence_output"])
        np.testing.assert_allclose(a[real], b[real], atol=1e-5)


@pytest.mark.slow  # compiles a bf16 training step
def test_bfloat16_policy_trains_with_a_float32_table():
    encoder = tiny_encoder(dtype="mixed_bfloat16")
    model = BertPretrainer(encoder, dtype="mixed_bfloat16")
    reference = tiny_encoder()
    reference.set_weights(encoder.get_weights())
    assert encoder.token_importance.table.dtype == "float32"
    assert encoder.token_embedding.embeddings.dtype == "float32"  # weights stay float32
    features = batch(batch_size=4, seed=5)
    inputs = encoder_inputs(features)
    low = encoder(inputs, training=False)["sequence_output"]
    high = reference(inputs, training=False)["sequence_output"]
    assert keras.backend.standardize_dtype(low.dtype) == "bfloat16"
    difference = np.abs(np.asarray(low, "float32") - np.asarray(high))
    # bf16 keeps 8 bits of mantissa: layer-normed states of size ~1 agree
    # to about 1e-2, far from float32's 1e-6 but nowhere near unrelated.
    assert difference.mean() < 2e-2 and difference.max() < 0.15, (difference.mean(), difference.max())
    logits = model(features, training=False)["mlm_logits"]
    assert keras.backend.standardize_dtype(logits.dtype) == "bfloat16"
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    before = encoder.token_importance.table.numpy().copy()
    logs = model.train_on_batch(features, return_dict=True)
    assert np.isfinite(logs["loss"])
    table = encoder.token_importance.table
    assert table.dtype == "float32" and not np.array_equal(table.numpy(), before)
    # The policy round-trips through the config.
    clone = TokenDropBertEncoder.from_config(encoder.get_config())
    assert clone.dtype_policy.name == "mixed_bfloat16"
    assert clone.token_importance.dtype_policy.name == "float32"
    assert BertPretrainer.from_config(model.get_config()).masked_lm_head.dtype_policy.name == "mixed_bfloat16"


def test_keras_hub_backbone_takes_the_encoder_policy_not_the_global_one():
    from official_tokendrop.interop.keras_hub import to_keras_hub

    encoder = tiny_encoder(dtype="mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"
    backbone = to_keras_hub(encoder)
    assert backbone.dtype_policy.name == "mixed_bfloat16"
    assert backbone.get_layer("transformer_layer_0").compute_dtype == "bfloat16"
    for ours, theirs in zip(encoder.get_layer("token_embedding").weights,
                            backbone.get_layer("token_embedding").weights):
        np.testing.assert_array_equal(theirs.numpy(), ours.numpy())
