"""`BertTextRegressor`: its output, its loss, and its round trips."""

import keras
import keras_hub
import numpy as np
import pytest

from official_tokendrop.models.bert_text_regressor import BertTextRegressor

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]


@pytest.fixture
def regressor():
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2,
                                             hidden_dim=8, intermediate_dim=16, max_sequence_length=8)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        keras_hub.models.BertTokenizer(vocabulary=VOCABULARY), sequence_length=8)
    return BertTextRegressor(backbone, preprocessor=preprocessor, dropout=0.0)


def test_the_score_is_a_linear_map_of_the_pooled_output(regressor):
    features = regressor.preprocessor(x=(np.array(["a b", "c"]), np.array(["b", "a c"])))
    scores = regressor(features, training=False)
    assert scores.shape == (2, 1)
    pooled = regressor.backbone(features)["pooled_output"]
    kernel, bias = regressor.get_layer("score").get_weights()
    np.testing.assert_allclose(scores, np.asarray(pooled) @ kernel + bias, atol=1e-6)
    # Compiled with its defaults: the mean squared error of those scores.
    targets = np.array([1.5, 4.0], np.float32)
    assert float(regressor.loss(targets, scores)) == pytest.approx(float(np.mean((scores[:, 0] - targets) ** 2)))


def test_config_and_saved_model_round_trip(regressor, tmp_path):
    features = regressor.preprocessor(x=(np.array(["a b c"]), np.array(["b"])))
    expected = regressor(features, training=False)
    clone = BertTextRegressor.from_config(regressor.get_config())
    assert clone.get_config()["dropout"] == 0.0 and clone.backbone.hidden_dim == 8
    path = str(tmp_path / "regressor.keras")
    regressor.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, BertTextRegressor)
    np.testing.assert_allclose(loaded(features, training=False), expected, atol=1e-6)
    # Compiled as saved (FineTuningTask.compile_from_config): the MSE loss.
    targets = np.array([2.5], np.float32)
    assert float(loaded.compute_loss(y=targets, y_pred=expected)) == pytest.approx(
        float(np.mean((np.asarray(expected)[:, 0] - targets) ** 2)), rel=1e-6)
    preset = str(tmp_path / "preset")
    regressor.save_to_preset(preset)
    restored = BertTextRegressor.from_preset(preset)
    np.testing.assert_allclose(restored(features, training=False), expected, atol=1e-6)
    assert restored.preprocessor.sequence_length == 8
