import keras
import keras_hub
import numpy as np

from official_tokendrop.layers import TransformerBlock, gelu_approximate


def _pair():
    ours = TransformerBlock(
        num_heads=2, intermediate_dim=24, activation=gelu_approximate
    )
    ours.build((None, None, 8))
    theirs = keras_hub.layers.TransformerEncoder(
        intermediate_dim=24,
        num_heads=2,
        activation=gelu_approximate,
        layer_norm_epsilon=1e-12,
        dropout=0.0,
    )
    theirs.build((None, None, 8))
    return ours, theirs


def test_weights_move_to_keras_hub_transformer_encoder():
    ours, theirs = _pair()
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    rng = np.random.default_rng(0)
    ours.set_weights([rng.normal(size=w.shape) * 0.3 for w in ours.weights])
    theirs.set_weights(ours.get_weights())
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    padding = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
    expected = theirs(x, padding_mask=padding).numpy()
    got = ours(x, attention_mask=padding[:, None, :]).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Masked keys really are ignored: changing them changes nothing.
    x2 = x.copy()
    x2[0, 3:] = 5.0
    got2 = ours(x2, attention_mask=padding[:, None, :]).numpy()
    np.testing.assert_allclose(got2[0, :3], got[0, :3], atol=1e-5)


def test_query_subset_reads_all_tokens():
    ours, _ = _pair()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    mask = np.ones([2, 1, 6], "int32")
    full = ours(x, attention_mask=mask).numpy()
    rows = [0, 2, 5]
    subset = ours(x[:, rows], x, attention_mask=np.ones([2, 3, 6], "int32"))
    np.testing.assert_allclose(subset.numpy(), full[:, rows], atol=1e-5)


def test_config_round_trip():
    ours, _ = _pair()
    config = ours.get_config()
    clone = TransformerBlock.from_config(config)
    assert clone.get_config() == config
    assert keras.activations.get(config["activation"]) is gelu_approximate
