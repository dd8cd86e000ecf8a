import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import ALLOW, SEQ, VOCAB, batch, encoder_inputs, tiny_encoder
from official_tokendrop.interop.keras_hub import to_keras_hub
from official_tokendrop.models import TokenDropBertEncoder

# Token 0 ([PAD]) inside the real tokens, allow-listed ids in the middle.
FEATURES = batch(4, seed=3)
FEATURES["input_word_ids"][0, 5] = 0
FEATURES["input_word_ids"][1, 3] = ALLOW[2]
INPUTS = encoder_inputs(FEATURES)


def _hub_outputs(encoder, inputs):
    backbone = to_keras_hub(encoder)
    return backbone(
        {
            "token_ids": inputs["input_word_ids"],
            "segment_ids": inputs["input_type_ids"],
            "padding_mask": inputs["input_mask"],
        }
    )


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    enc = tiny_encoder()
    # Non-uniform importance so selection is not just "the first k".
    rng = np.random.default_rng(0)
    table = enc.token_importance.table.numpy()
    table[5:] = rng.uniform(0, 10, VOCAB - 5)
    enc.token_importance.table.assign(table)
    return enc


def test_keep_all_equals_keras_hub_bert_in_training():
    keras.utils.set_random_seed(1)
    enc = tiny_encoder(token_keep_k=SEQ)
    ours = enc(INPUTS, training=True)
    theirs = _hub_outputs(enc, INPUTS)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5)


def test_inference_equals_keras_hub_bert_for_any_keep_k(encoder):
    ours = encoder(INPUTS, training=False)
    theirs = _hub_outputs(encoder, INPUTS)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5)
    # ... and dropping really changes the training-mode output.
    dropped = encoder(INPUTS, training=True)["sequence_output"]
    assert np.abs(dropped - ours["sequence_output"]).max() > 1e-2


def _hand_keep_indices(encoder, inputs, k):
    table = encoder.token_importance.table.numpy()
    scores = table[inputs["input_word_ids"]]
    scores[inputs["input_mask"] == 0] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.sort(order[:, :k], 1), np.sort(order[:, k:], 1)


def test_dropping_layers_match_hand_built_reference(encoder):
    """Layers 0 | 1 2 (drop, k=6) | 3 of the tiny 4-layer encoder."""
    assert (encoder.first_drop_layer, encoder.last_drop_layer) == (1, 2)
    out = encoder(INPUTS, training=True)
    states = [s.numpy() for s in out["encoder_outputs"]]
    assert len(states) == 4
    keep, drop = _hand_keep_indices(encoder, INPUTS, 6)
    np.testing.assert_array_equal(
        encoder.select_tokens(INPUTS["input_word_ids"], INPUTS["input_mask"])[0],
        keep,
    )
    before = states[0]  # output of the last full layer before dropping
    mask = INPUTS["input_mask"]
    blocks = encoder.transformer_layers
    gather = lambda x, idx: np.take_along_axis(x, idx[..., None], 1)  # noqa: E731
    kept = blocks[1](gather(before, keep), before, attention_mask=mask[:, None, :])
    kept_mask = np.take_along_axis(mask, keep, 1)[:, None, :]
    kept = blocks[2](kept, attention_mask=kept_mask).numpy()
    np.testing.assert_allclose(gather(states[2], keep), kept, atol=1e-5)
    # Dropped tokens skip layers 1-2 untouched.
    np.testing.assert_array_equal(gather(states[1], drop), gather(before, drop))
    np.testing.assert_array_equal(gather(states[2], drop), gather(before, drop))
    # The last layer sees the merged full sequence.
    last = blocks[3](states[2], attention_mask=mask[:, None, :]).numpy()
    np.testing.assert_allclose(out["sequence_output"], last, atol=1e-5)
    np.testing.assert_allclose(states[3], last, atol=1e-5)


def test_deny_listed_pad_dropped_and_allowed_ids_kept():
    enc = tiny_encoder(token_keep_k=8)
    features = batch(32, seed=5, min_length=12)
    ids, mask = features["input_word_ids"], features["input_mask"]
    rng = np.random.default_rng(5)
    # Sprinkle [PAD] and allow-listed ids among the real tokens.
    for b in range(32):
        length = mask[b].sum()
        spots = rng.choice(length, 5, replace=False)
        ids[b, spots[:2]] = 0
        ids[b, spots[2:]] = rng.choice(ALLOW, 3)
    keep, _ = enc.select_tokens(ids, mask)
    kept_ids = np.take_along_axis(ids, keep.numpy(), 1)
    kept_mask = np.take_along_axis(mask, keep.numpy(), 1)
    for b in range(32):
        assert 0 not in kept_ids[b] and kept_mask[b].all()
        real = ids[b][mask[b] == 1]
        assert set(real[np.isin(real, ALLOW)]) <= set(kept_ids[b])


def test_no_dropping_encoder_is_plain_bert():
    keras.utils.set_random_seed(2)
    enc = tiny_encoder(token_keep_k=None)
    assert enc.token_importance is None
    ours = enc(INPUTS, training=True)
    np.testing.assert_allclose(
        ours["sequence_output"], _hub_outputs(enc, INPUTS)["sequence_output"], atol=1e-5
    )


def test_xla_compiled_training_call_matches_eager(encoder):
    compiled = tf.function(lambda x: encoder(x, training=True), jit_compile=True)
    np.testing.assert_allclose(
        compiled(INPUTS)["sequence_output"],
        encoder(INPUTS, training=True)["sequence_output"],
        atol=1e-5,
    )


def test_save_and_load_round_trip(encoder, tmp_path):
    clone = TokenDropBertEncoder.from_config(encoder.get_config())
    assert clone.get_config() == encoder.get_config()
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TokenDropBertEncoder)
    np.testing.assert_array_equal(
        loaded.token_importance.table.numpy(), encoder.token_importance.table.numpy()
    )
    np.testing.assert_allclose(
        loaded(INPUTS, training=True)["sequence_output"],
        encoder(INPUTS, training=True)["sequence_output"],
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(token_keep_k=0), "token_keep_k"),
        (dict(token_keep_k=SEQ + 1), "token_keep_k"),
        (dict(num_layers=2), "at least 3 layers"),
        (dict(first_drop_layer=2, last_drop_layer=3), "num_layers - 2"),
        (dict(token_allow_list=(1, 2), token_deny_list=(2,)), "both"),
        (dict(token_allow_list=(VOCAB,)), "outside the vocabulary"),
        (dict(num_attention_heads=3), "divisible"),
    ],
)
def test_bad_construction_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_encoder(**kwargs)


def test_bad_inputs_raise(encoder):
    short = {k: v[:, :4] for k, v in INPUTS.items()}
    with pytest.raises(ValueError, match="exceeds the sequence length"):
        encoder(short, training=True)
    with pytest.raises(ValueError, match=r"\[batch, seq_length\]"):
        encoder({**INPUTS, "input_mask": INPUTS["input_mask"][:, :8]})
    with pytest.raises(KeyError, match="input_type_ids"):
        encoder({k: INPUTS[k] for k in ("input_word_ids", "input_mask")})
    bad = dict(INPUTS, input_word_ids=INPUTS["input_word_ids"].copy())
    bad["input_word_ids"][2, 1] = VOCAB
    with pytest.raises(ValueError, match=r"input_word_ids.*\[0, 64\).*\(2, 1\)"):
        encoder(bad)
    with pytest.raises(ValueError, match="max_sequence_length"):
        long = {k: np.concatenate([v, v], 1) for k, v in INPUTS.items()}
        encoder(long)


def test_out_of_range_ids_poison_compiled_outputs(encoder):
    """Inside XLA nothing can raise: the bad example turns NaN, not wrong."""
    bad = dict(INPUTS, input_type_ids=INPUTS["input_type_ids"].copy())
    bad["input_type_ids"][1, 0] = 2
    compiled = tf.function(lambda x: encoder(x, training=True), jit_compile=True)
    out = compiled(bad)["sequence_output"].numpy()
    assert np.isnan(out[1]).all()
    assert np.isfinite(out[[0, 2, 3]]).all()


def test_encoder_reports_its_drop_schedule_and_kept_tokens():
    encoder = tiny_encoder(token_random_keep_k=2)  # 4 layers, keep 6 + 2 random of 16
    assert encoder.schedule.drop_layers == (1, 2)
    assert encoder.schedule.num_kept == 8 and encoder.kept_fraction(SEQ) == 0.5
    twelve = tiny_encoder(num_layers=12, token_random_keep_k=0)
    assert twelve.schedule.drop_layers == (5, 6, 7, 8, 9, 10)
    dense = tiny_encoder(token_keep_k=None)
    assert dense.schedule.drop_layers == () and dense.schedule.num_kept is None and dense.kept_fraction(SEQ) == 1.0
    dense.record_mlm_losses(np.array([[7]]), np.array([[2.0]]), np.array([[1.0]]))  # nothing to move


def test_record_mlm_losses_moves_the_table_by_the_running_average():
    encoder = tiny_encoder(token_loss_beta=0.9)
    ids = np.array([[7, 7, 9, 11]])
    losses = np.array([[2.0, 4.0, 1.0, 5.0]], "float32")
    weights = np.array([[1.0, 1.0, 1.0, 0.0]], "float32")  # id 11 is padding
    encoder.record_mlm_losses(ids, losses, weights)
    table = keras.ops.convert_to_numpy(encoder.token_importance.table)
    np.testing.assert_allclose(table[[7, 9, 11, 8]], [0.9 * 10 + 0.1 * 3.0, 0.9 * 10 + 0.1 * 1.0, 10.0, 10.0],
                               rtol=1e-6)


def test_exact_gelu_encoder_round_trips(tmp_path):
    """`hidden_activation="gelu_exact"` reaches every block and survives
    get_config/from_config and model.save/load_model; its outputs differ
    from the tanh form's with the same weights."""
    from official_tokendrop.layers import gelu_exact

    exact = tiny_encoder(hidden_activation="gelu_exact")
    # Weights large enough for the forms to differ (initial ones keep the
    # pre-activations where they agree to float precision).
    rng = np.random.default_rng(4)
    exact.set_weights([rng.normal(0.0, 0.5, w.shape).astype("float32") for w in exact.get_weights()])
    assert all(block.activation is gelu_exact for block in exact.transformer_layers)
    clone = TokenDropBertEncoder.from_config(exact.get_config())
    assert clone.get_config() == exact.get_config() and clone.hidden_activation == "gelu_exact"
    path = str(tmp_path / "exact.keras")
    exact.save(path)
    loaded = keras.saving.load_model(path)
    expected = exact(INPUTS, training=False)["sequence_output"]
    np.testing.assert_allclose(loaded(INPUTS, training=False)["sequence_output"], expected, atol=1e-6)
    tanh = tiny_encoder()
    tanh.set_weights(exact.get_weights())
    assert np.max(np.abs(tanh(INPUTS, training=False)["sequence_output"] - expected)) > 1e-5


def test_unknown_hidden_activation_is_refused():
    with pytest.raises(ValueError, match=r"`hidden_activation` must be one of \('gelu', 'gelu_exact'\).*'relu'"):
        tiny_encoder(hidden_activation="relu")
