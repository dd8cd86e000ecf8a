"""BertSpanLabeler: the span head's outputs and loss by hand, and its
get_config / save round trips."""

import keras
import keras_hub
import numpy as np
import pytest

from official_tokendrop.models.bert_span_labeler import BertSpanLabeler

SEQ = 8


@pytest.fixture(scope="module")
def labeler():
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=SEQ, dropout=0.0,
    )
    return BertSpanLabeler(backbone)


def features():
    return {
        "token_ids": np.array([[2, 7, 3, 9, 10, 11, 3, 0], [2, 8, 3, 12, 13, 3, 0, 0]], np.int32),
        "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 0, 0]], np.int32),
        "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 0, 0]], np.int32),
    }


def test_logits_are_the_dense_layer_over_each_position(labeler):
    logits = keras.ops.convert_to_numpy(labeler(features()))
    assert logits.shape == (2, 2, SEQ)
    sequence = keras.ops.convert_to_numpy(labeler.backbone(features())["sequence_output"])
    kernel, bias = labeler.span_dense.get_weights()
    np.testing.assert_allclose(logits, np.transpose(sequence @ kernel + bias, (0, 2, 1)), rtol=1e-5, atol=1e-6)


def test_loss_is_berts_mean_of_start_and_end_cross_entropy(labeler):
    spans = np.array([[4, 5], [0, 0]], np.int32)
    logits = keras.ops.convert_to_numpy(labeler(features()))
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    start = -np.mean([log_softmax[b, 0, spans[b, 0]] for b in range(2)])
    end = -np.mean([log_softmax[b, 1, spans[b, 1]] for b in range(2)])
    loss = labeler.compute_loss(y=spans, y_pred=labeler(features()))
    np.testing.assert_allclose(float(loss), (start + end) / 2, rtol=1e-5)


def test_config_and_saved_model_round_trips(labeler, tmp_path):
    expected = keras.ops.convert_to_numpy(labeler(features()))
    rebuilt = BertSpanLabeler.from_config(labeler.get_config())
    rebuilt.set_weights(labeler.get_weights())
    assert rebuilt.get_config() == labeler.get_config()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rebuilt(features())), expected, rtol=1e-6)
    labeler.compile(optimizer=keras.optimizers.AdamW(3e-4, weight_decay=0.02))
    labeler.optimizer.build(labeler.trainable_variables)  # as after training
    path = str(tmp_path / "labeler.keras")
    labeler.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is BertSpanLabeler and loaded.preprocessor is None
    # Compiled as saved: the optimizer's settings and the span loss.
    assert type(loaded.optimizer) is keras.optimizers.AdamW and loaded.optimizer.weight_decay == 0.02
    np.testing.assert_allclose(float(loaded.optimizer.learning_rate), 3e-4, rtol=1e-6)
    spans = np.array([[4, 5], [0, 0]], np.int32)
    np.testing.assert_allclose(float(loaded.compute_loss(y=spans, y_pred=loaded(features()))),
                               float(labeler.compute_loss(y=spans, y_pred=labeler(features()))), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(features())), expected, rtol=1e-6)
