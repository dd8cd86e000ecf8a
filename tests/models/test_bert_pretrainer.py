import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import PREDICTIONS, SEQ, VOCAB, batch, tiny_encoder
from official_tokendrop.utils import synthetic
from official_tokendrop.models import BertPretrainer


def _pretrainer(seed=0, **encoder_kwargs):
    keras.utils.set_random_seed(seed)
    return BertPretrainer(tiny_encoder(**encoder_kwargs))


def _weighted_ids(features):
    return set(features["masked_lm_ids"][features["masked_lm_weights"] > 0].tolist())


@pytest.fixture(scope="module")
def trained():
    """A pretrainer overfitted on one fixed batch with fit + XLA."""
    model = _pretrainer()
    features = batch(8, seed=11)
    initial_table = model.encoder.token_importance.table.numpy().copy()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    first = model.evaluate(features, verbose=0, return_dict=True)
    dataset = tf.data.Dataset.from_tensors(features).repeat()
    history = model.fit(dataset, steps_per_epoch=60, epochs=1, verbose=0)
    return model, features, initial_table, first, history


def test_fit_with_xla_overfits_a_fixed_batch(trained):
    model, features, _, first, _ = trained
    assert model.jit_compile is True
    last = model.evaluate(features, verbose=0, return_dict=True)
    assert last["mlm_loss"] < 0.5 * first["mlm_loss"]
    assert first["mlm_loss"] == pytest.approx(np.log(VOCAB), rel=0.1)
    assert last["mlm_accuracy"] > first["mlm_accuracy"]


def test_fit_moves_table_for_predicted_ids_only(trained):
    model, features, initial_table, _, _ = trained
    table = model.encoder.token_importance.table.numpy()
    moved = set(np.flatnonzero(table != initial_table).tolist())
    assert moved == _weighted_ids(features)
    # 60 steps of beta=0.995 from 10.0 toward losses well below 10.
    assert all(table[i] < initial_table[i] for i in moved)
    np.testing.assert_array_equal(table[:5], initial_table[:5])


def test_save_and_load_round_trip(trained, tmp_path):
    model, features, _, _, _ = trained
    path = str(tmp_path / "pretrainer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, BertPretrainer)
    np.testing.assert_array_equal(
        loaded.encoder.token_importance.table.numpy(),
        model.encoder.token_importance.table.numpy(),
    )
    for training in (False, True):
        np.testing.assert_allclose(
            loaded(features, training=training)["mlm_logits"],
            model(features, training=training)["mlm_logits"],
            atol=1e-5,
        )
    assert loaded.encoder.get_config() == model.encoder.get_config()


def test_evaluation_does_not_touch_table(trained):
    model, features, _, _, _ = trained
    before = model.encoder.token_importance.table.numpy().copy()
    model.evaluate(features, verbose=0)
    model.predict(features, verbose=0)
    np.testing.assert_array_equal(model.encoder.token_importance.table.numpy(), before)


def test_next_sentence_head_and_metric():
    keras.utils.set_random_seed(0)
    model = BertPretrainer(tiny_encoder(), next_sentence=True)
    features = batch(4, seed=2)
    features["next_sentence_labels"] = np.array([[0], [1], [1], [0]], "int32")
    outputs = model(features)
    assert tuple(outputs["next_sentence"].shape) == (4, 2)
    model.compile(optimizer="adam", jit_compile=True)
    logs = model.evaluate(features, verbose=0, return_dict=True)
    mlm = keras.losses.sparse_categorical_crossentropy(
        features["masked_lm_ids"], outputs["mlm_logits"], from_logits=True
    ).numpy()
    weights = features["masked_lm_weights"]
    nsp = keras.losses.sparse_categorical_crossentropy(
        features["next_sentence_labels"][:, 0], outputs["next_sentence"], from_logits=True
    ).numpy()
    expected = (mlm * weights).sum() / weights.sum() + nsp.mean()
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    assert "next_sentence_accuracy" in logs
    with pytest.raises(KeyError, match="next_sentence_labels"):
        model({k: v for k, v in features.items() if k != "next_sentence_labels"})


def test_bad_features_raise():
    model = _pretrainer()
    features = batch(2)
    with pytest.raises(ValueError, match=r"masked_lm_positions.*\[0, 16\)"):
        model(dict(features, masked_lm_positions=features["masked_lm_positions"] + SEQ))
    with pytest.raises(ValueError, match=r"\[batch, predictions\]"):
        model(dict(features, masked_lm_ids=features["masked_lm_ids"][:, :2]))


def _replica_tables(variable):
    return [v.numpy() for v in variable.value.values]


@pytest.mark.slow
def test_mirrored_replicas_keep_identical_tables_equal_to_one_device(two_replicas):
    """2 replicas on different halves == one device on the global batch."""
    steps, global_batch = 4, 8
    batches = [
        synthetic.pretraining_batch(global_batch, SEQ, PREDICTIONS, VOCAB, seed=s)
        for s in range(steps)
    ]

    def dataset():
        return tf.data.Dataset.from_tensor_slices(
            {k: np.stack([b[k] for b in batches]) for k in batches[0]}
        ).unbatch().batch(global_batch)

    reference = _pretrainer(seed=3)
    weights = reference.get_weights()
    reference.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=True)
    reference.fit(dataset(), epochs=1, verbose=0)

    with two_replicas.scope():
        mirrored = _pretrainer(seed=3)
        mirrored.set_weights(weights)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=True)
    mirrored.fit(dataset(), epochs=1, verbose=0)

    table_0, table_1 = _replica_tables(mirrored.encoder.token_importance.table)
    np.testing.assert_array_equal(table_0, table_1)
    expected = reference.encoder.token_importance.table.numpy()
    assert (expected != 10.0).sum() > 20  # the table really moved
    np.testing.assert_allclose(table_0, expected, rtol=1e-5)
    # Gradients were combined exactly too: the weights agree.
    for ours, theirs in zip(mirrored.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_tensorflow_checkpoint_holds_every_weight(trained, tmp_path):
    model, features, _, _, _ = trained
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    names = {n for n, _ in tf.train.list_variables(path)}
    assert "model/encoder/token_importance/table/.ATTRIBUTES/VARIABLE_VALUE" in names
    clone = _pretrainer(seed=99)
    tf.train.Checkpoint(model=clone).restore(path).assert_existing_objects_matched()
    for ours, theirs in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_adam_second_moment_of_embeddings_squares_summed_gradients():
    """Keras' TF optimizers square an embedding's IndexedSlices rows before
    summing repeated ids; the pretrainer hands them dense gradients."""
    model = _pretrainer()
    features = batch(4, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_2=0.5), jit_compile=False)
    segment = model.encoder.segment_embedding.embeddings
    with tf.GradientTape() as tape:
        outputs = model(features, training=True)
        loss, _ = model.pretraining_losses(
            features, outputs, model.global_weight_total(features)
        )
    gradient = tf.convert_to_tensor(tape.gradient(loss, segment)).numpy()
    model.train_on_batch(features)
    (velocity,) = [
        v for v in model.optimizer.variables
        if "segment_embedding" in v.path and "velocity" in v.path
    ]
    # Two segment ids over 64 tokens: summing first changes the result.
    np.testing.assert_allclose(velocity.numpy(), 0.5 * gradient**2, rtol=1e-4)


def test_top_prediction_is_matches_argmax_including_ties():
    from official_tokendrop.models.bert_pretrainer import top_prediction_is

    rng = np.random.default_rng(0)
    logits = rng.integers(0, 4, size=(6, 5, 7)).astype("float32")  # many ties
    labels = rng.integers(0, 7, size=(6, 5))
    labels[:, 0] = np.argmax(logits[:, 0], axis=-1)  # some hits for sure
    expected = (np.argmax(logits, axis=-1) == labels).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(top_prediction_is(labels, logits)), expected
    )
    assert 0 < expected.mean() < 1
    logits[1] = np.nan  # a poisoned example never counts as correct
    assert not keras.ops.convert_to_numpy(top_prediction_is(labels, logits))[1].any()
