"""task.init_checkpoint: a pretrainer initialized from a keras-hub preset, a
transformers directory, Google's TF1 BERT checkpoint or our own checkpoint
computes what the source computes; every misfit is refused before anything
changes."""

import json
import os

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from conftest import SEQ, VOCAB, batch, encoder_inputs, tiny_encoder
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError
from official_tokendrop.interop import init_checkpoint
from official_tokendrop.interop.init_checkpoint import from_keras_hub, initialize_from
from official_tokendrop.interop.keras_hub import to_keras_hub, to_keras_hub_masked_lm
from official_tokendrop.interop.transformers import write_transformers
from official_tokendrop.models import BertPretrainer

HIDDEN, LAYERS, HEADS, INNER = 16, 4, 2, 32
TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"tok{i}" for i in range(5, VOCAB)]


def _randomize(weights, seed):
    """Random values everywhere (layer-norm scales near 1), so that a
    weight left out or misplaced shows in the outputs."""
    rng = np.random.default_rng(seed)
    for w in weights:
        value = rng.normal(0.0, 0.2, w.shape)
        w.assign((value + 1.0 if w.path.endswith("gamma") else value).astype("float32"))


def _write_vocab(path, tokens):
    with open(path, "w") as f:
        f.write("\n".join(tokens) + "\n")
    return str(path)


def _target(next_sentence=False, **overrides):
    return BertPretrainer(tiny_encoder(**overrides), next_sentence=next_sentence)


def _ours(pretrainer, features):
    """(sequence output, pooled output, MLM logits) at inference."""
    encoded = pretrainer.encoder(encoder_inputs(features), training=False)
    logits = pretrainer(features, training=False)["mlm_logits"]
    return encoded["sequence_output"].numpy(), encoded["pooled_output"].numpy(), logits.numpy()


def _keras_hub(masked_lm, features):
    """The same from a keras-hub BertMaskedLM (or a bare BertBackbone)."""
    backbone = getattr(masked_lm, "backbone", masked_lm)
    encoded = backbone({"token_ids": features["input_word_ids"], "segment_ids": features["input_type_ids"],
                        "padding_mask": features["input_mask"]}, training=False)
    sequence = encoded["sequence_output"]
    logits = None
    if backbone is not masked_lm:
        logits = masked_lm.get_layer("mlm_head")(sequence, mask_positions=features["masked_lm_positions"]).numpy()
    return sequence.numpy(), encoded["pooled_output"].numpy(), logits


def _assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def _values(pretrainer):
    return [w.numpy().copy() for w in pretrainer.weights]


# === Sources, built once ===
@pytest.fixture(scope="module")
def features():
    return batch(seed=3)


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    return _write_vocab(tmp_path_factory.mktemp("vocab") / "vocab.txt", TOKENS)


@pytest.fixture(scope="module")
def source(vocab):
    """Our pretrainer with random weights (the importance table too)."""
    keras.utils.set_random_seed(7)
    pretrainer = BertPretrainer(tiny_encoder())
    _randomize(pretrainer.weights, seed=7)
    return pretrainer


@pytest.fixture(scope="module")
def keras_hub_model():
    """A keras-hub BertMaskedLM with random weights: a source our code did not write."""
    keras.utils.set_random_seed(11)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB, num_layers=LAYERS, num_heads=HEADS, hidden_dim=HIDDEN,
        intermediate_dim=INNER, max_sequence_length=SEQ, num_segments=2, dropout=0.0)
    masked_lm = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    _randomize(masked_lm.weights, seed=11)
    return masked_lm


@pytest.fixture(scope="module")
def masked_lm_preset(source, vocab, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("preset") / "masked_lm")
    to_keras_hub_masked_lm(source, vocab, SEQ).save_to_preset(path)
    return path


@pytest.fixture(scope="module")
def backbone_preset(source, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("preset") / "backbone")
    to_keras_hub(source.encoder).save_to_preset(path)
    return path


@pytest.fixture(scope="module")
def exported_transformers(source, vocab, tmp_path_factory):
    return write_transformers(source, vocab, str(tmp_path_factory.mktemp("hf") / "ours"), SEQ)


def _public_names(masked_lm, nsp):
    """(Google's TF1 name, transformers' name, value in TF layout, whether
    transformers stores it transposed) of every weight, written out by
    hand from the two formats' public names."""
    backbone = masked_lm.backbone
    head = masked_lm.get_layer("mlm_head")
    rows = [
        ("bert/embeddings/word_embeddings", "bert.embeddings.word_embeddings.weight",
         backbone.get_layer("token_embedding").embeddings, False),
        ("bert/embeddings/position_embeddings", "bert.embeddings.position_embeddings.weight",
         backbone.get_layer("position_embedding").position_embeddings, False),
        ("bert/embeddings/token_type_embeddings", "bert.embeddings.token_type_embeddings.weight",
         backbone.get_layer("segment_embedding").embeddings, False),
    ]

    def dense(tf_name, hf_name, layer):
        kernel = layer.kernel.numpy()
        kernel = kernel.reshape(-1, kernel.shape[-1]) if kernel.ndim == 3 and kernel.shape[0] != HIDDEN \
            else kernel.reshape(kernel.shape[0], -1)
        return [(f"{tf_name}/kernel", f"{hf_name}.weight", kernel, True),
                (f"{tf_name}/bias", f"{hf_name}.bias", layer.bias.numpy().reshape(-1), False)]

    def norm(tf_name, hf_name, layer):
        return [(f"{tf_name}/gamma", f"{hf_name}.weight", layer.gamma, False),
                (f"{tf_name}/beta", f"{hf_name}.bias", layer.beta, False)]

    rows += norm("bert/embeddings/LayerNorm", "bert.embeddings.LayerNorm", backbone.get_layer("embeddings_layer_norm"))
    for i in range(LAYERS):
        block = backbone.get_layer(f"transformer_layer_{i}")
        attention = block._self_attention_layer
        tf_prefix, hf_prefix = f"bert/encoder/layer_{i}", f"bert.encoder.layer.{i}"
        for part in ("query", "key", "value"):
            rows += dense(f"{tf_prefix}/attention/self/{part}", f"{hf_prefix}.attention.self.{part}",
                          getattr(attention, f"{part}_dense"))
        rows += dense(f"{tf_prefix}/attention/output/dense", f"{hf_prefix}.attention.output.dense",
                      attention.output_dense)
        rows += norm(f"{tf_prefix}/attention/output/LayerNorm", f"{hf_prefix}.attention.output.LayerNorm",
                     block._self_attention_layer_norm)
        rows += dense(f"{tf_prefix}/intermediate/dense", f"{hf_prefix}.intermediate.dense",
                      block._feedforward_intermediate_dense)
        rows += dense(f"{tf_prefix}/output/dense", f"{hf_prefix}.output.dense", block._feedforward_output_dense)
        rows += norm(f"{tf_prefix}/output/LayerNorm", f"{hf_prefix}.output.LayerNorm", block._feedforward_layer_norm)
    rows += dense("bert/pooler/dense", "bert.pooler.dense", backbone.get_layer("pooled_dense"))
    rows += dense("cls/predictions/transform/dense", "cls.predictions.transform.dense", head._intermediate_dense)
    rows += norm("cls/predictions/transform/LayerNorm", "cls.predictions.transform.LayerNorm",
                 head._intermediate_layer_norm)
    rows.append(("cls/predictions/output_bias", "cls.predictions.bias", head._bias, False))
    rows += [("cls/seq_relationship/output_weights", "cls.seq_relationship.weight", nsp["weight"], False),
             ("cls/seq_relationship/output_bias", "cls.seq_relationship.bias", nsp["bias"], False)]
    return [(g, h, np.asarray(v, np.float32), t) for g, h, v, t in rows]


BERT_CONFIG = {"vocab_size": VOCAB, "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
               "num_attention_heads": HEADS, "intermediate_size": INNER, "max_position_embeddings": SEQ,
               "type_vocab_size": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
               "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02}


@pytest.fixture(scope="module")
def nsp_weights():
    rng = np.random.default_rng(5)
    return {"weight": rng.normal(0, 0.2, (2, HIDDEN)).astype("float32"),
            "bias": rng.normal(0, 0.2, (2,)).astype("float32")}


@pytest.fixture(scope="module")
def independent_transformers(keras_hub_model, nsp_weights, vocab, tmp_path_factory):
    """A transformers directory written with NumPy and safetensors alone, as
    transformers' BertForMaskedLM saves it: `bert.` names, no pooler."""
    from safetensors.numpy import save_file

    path = tmp_path_factory.mktemp("hf") / "independent"
    path.mkdir()
    tensors = {hf: (value.T if transpose else value).copy()
               for _, hf, value, transpose in _public_names(keras_hub_model, nsp_weights)
               if not hf.startswith(("bert.pooler", "cls.seq_relationship"))}
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    with open(path / "config.json", "w") as f:
        json.dump({**BERT_CONFIG, "model_type": "bert", "architectures": ["BertForMaskedLM"],
                   "hidden_act": "gelu_new"}, f)
    _write_vocab(path / "vocab.txt", TOKENS)
    return str(path)


@pytest.fixture(scope="module")
def google_checkpoint(keras_hub_model, nsp_weights, tmp_path_factory):
    """Google's layout: bert_model.ckpt (TF1 names, written by a TF1 Saver),
    bert_config.json and vocab.txt in one directory."""
    directory = tmp_path_factory.mktemp("google")
    rows = _public_names(keras_hub_model, nsp_weights)
    with tf.Graph().as_default():
        variables = {name: tf.compat.v1.Variable(value, name=name.replace("/", "_"))
                     for name, _, value, _ in rows}
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(directory / "bert_model.ckpt"), write_meta_graph=False)
    with open(directory / "bert_config.json", "w") as f:
        json.dump(BERT_CONFIG, f)
    _write_vocab(directory / "vocab.txt", TOKENS)
    return str(directory)


@pytest.fixture(scope="module")
def our_checkpoint(source, tmp_path_factory):
    """A model_dir with ckpt-1 holding the model and an optimizer that has stepped."""
    model_dir = str(tmp_path_factory.mktemp("run"))
    optimizer = keras.optimizers.Adam()
    optimizer.build(source.optimized_variables())
    optimizer.iterations.assign(7)
    tf.train.Checkpoint(model=source, optimizer=optimizer).save(os.path.join(model_dir, "ckpt"))
    return model_dir


# === Each source computes what it computed before ===
def test_keras_hub_masked_lm_preset(source, masked_lm_preset, vocab, features):
    target = _target()
    table = target.encoder.token_importance.table.numpy().copy()
    report = initialize_from(target, masked_lm_preset, vocab_file=vocab)
    for ours, theirs in zip(_ours(target, features), _ours(source, features)):
        _assert_close(ours, theirs)
    # The importance table is pretraining state: it starts fresh.
    np.testing.assert_array_equal(target.encoder.token_importance.table.numpy(), table)
    assert report.format == init_checkpoint.KERAS_HUB
    assert report.initialized == report.total - 1 == len(target.weights) - 1
    assert report.fresh == ("token importance table", "optimizer and step")
    line = report.line()
    assert "\n" not in line and masked_lm_preset in line and "keras-hub preset" in line
    assert f"initialized {report.initialized} of {report.total} variables" in line


def test_keras_hub_backbone_preset_leaves_the_head(source, backbone_preset, features):
    target = _target()
    head = [w.numpy().copy() for w in target.masked_lm_head.weights if "mlm_head" in w.path]
    report = initialize_from(target, backbone_preset)
    for ours, theirs in zip(_ours(target, features)[:2], _ours(source, features)[:2]):
        _assert_close(ours, theirs)
    for before, w in zip(head, [w for w in target.masked_lm_head.weights if "mlm_head" in w.path]):
        np.testing.assert_array_equal(w.numpy(), before)
    assert report.fresh[0] == "masked-LM head (the source has none)"
    assert report.initialized == len(target.weights) - 1 - 5


def test_from_keras_hub_is_the_inverse_of_to_keras_hub(source, features):
    target = tiny_encoder()
    assert from_keras_hub(to_keras_hub(source.encoder), target) == len(target.weights) - 1
    inputs = encoder_inputs(features)
    _assert_close(target(inputs, training=False)["sequence_output"],
                  source.encoder(inputs, training=False)["sequence_output"])


def test_transformers_directory_of_our_exporter(source, exported_transformers, vocab, features):
    target = _target()
    report = initialize_from(target, exported_transformers, vocab_file=vocab)
    for ours, theirs in zip(_ours(target, features), _ours(source, features)):
        _assert_close(ours, theirs)
    assert report.format == init_checkpoint.TRANSFORMERS
    assert report.fresh == ("token importance table", "optimizer and step") and not report.notes


def test_independent_transformers_directory_without_pooler(keras_hub_model, independent_transformers, features):
    target = _target()
    pooler = [w.numpy().copy() for w in target.encoder.pooled_dense.weights]
    report = initialize_from(target, independent_transformers)
    sequence, _, logits = _ours(target, features)
    expected_sequence, _, expected_logits = _keras_hub(keras_hub_model, features)
    _assert_close(sequence, expected_sequence)
    _assert_close(logits, expected_logits)
    for before, w in zip(pooler, target.encoder.pooled_dense.weights):
        np.testing.assert_array_equal(w.numpy(), before)
    assert "pooler (the source has none)" in report.fresh
    assert report.initialized == len(target.weights) - 1 - 2


def test_gelu_form_must_match_the_source(independent_transformers, tmp_path):
    """transformers' `hidden_act: gelu` is the exact form: a model of the
    tanh form is refused naming the key and the value to set; one of the
    exact form loads it."""
    directory = tmp_path / "exact"
    directory.mkdir()
    os.symlink(os.path.join(independent_transformers, "model.safetensors"), directory / "model.safetensors")
    with open(directory / "config.json", "w") as f:
        json.dump({**BERT_CONFIG, "model_type": "bert"}, f)
    message = _refused(ConfigurationError, _target(), str(directory), "does not fit the model")
    assert message.endswith("task.model.encoder.any.hidden_activation=gelu but the source has gelu_exact.")
    target = _target(hidden_activation="gelu_exact")
    report = initialize_from(target, str(directory))
    assert report.initialized == len(target.weights) - 1 - 2 and not report.notes


def test_keras_hub_backbone_refuses_an_exact_gelu_encoder(source):
    with pytest.raises(ConfigurationError, match="hidden_activation=gelu_exact but the source has gelu"):
        from_keras_hub(to_keras_hub(source.encoder), tiny_encoder(hidden_activation="gelu_exact"))


@pytest.mark.parametrize("as_prefix", [False, True])
def test_google_checkpoint(keras_hub_model, google_checkpoint, nsp_weights, vocab, features, as_prefix):
    target = _target(next_sentence=True)
    path = os.path.join(google_checkpoint, "bert_model.ckpt") if as_prefix else google_checkpoint
    report = initialize_from(target, path, vocab_file=vocab)
    features = {**features, "next_sentence_labels": np.zeros([len(features["input_mask"])], np.int32)}
    sequence, pooled, logits = _ours(target, features)
    expected = _keras_hub(keras_hub_model, features)
    for ours, theirs in zip((sequence, pooled, logits), expected):
        _assert_close(ours, theirs)
    nsp = target(features, training=False)["next_sentence"].numpy()
    _assert_close(nsp, expected[1] @ nsp_weights["weight"].T + nsp_weights["bias"])
    assert report.format == init_checkpoint.GOOGLE
    assert report.initialized == len(target.weights) - 1


@pytest.mark.parametrize("as_prefix", [False, True])
def test_our_checkpoint_weights_only(source, our_checkpoint, features, as_prefix):
    target = _target()
    target.compile(optimizer=keras.optimizers.Adam())
    table = target.encoder.token_importance.table.numpy().copy()
    path = os.path.join(our_checkpoint, "ckpt-1") if as_prefix else our_checkpoint
    report = initialize_from(target, path)
    for ours, theirs in zip(_ours(target, features), _ours(source, features)):
        _assert_close(ours, theirs)
    np.testing.assert_array_equal(target.encoder.token_importance.table.numpy(), table)
    assert int(target.optimizer.iterations.numpy()) == 0
    assert report.format == init_checkpoint.OURS
    assert report.initialized == len(target.weights) - 1


# === Refusals: one line each, nothing changed ===
def _refused(error, target, source_path, match, **kwargs):
    before = _values(target)
    with pytest.raises(error, match=match) as caught:
        initialize_from(target, source_path, **kwargs)
    assert "\n" not in str(caught.value)
    for was, w in zip(before, target.weights):
        np.testing.assert_array_equal(w.numpy(), was)
    return str(caught.value)


def test_missing_path_is_refused(tmp_path):
    _refused(MissingFileError, _target(), str(tmp_path / "nowhere"), "does not exist")


def test_unrecognised_directory_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    _refused(DataError, _target(), str(tmp_path), "no recognisable BERT")


def test_pytorch_only_directory_is_refused_with_the_conversion(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\0" * 16)
    with open(tmp_path / "config.json", "w") as f:
        json.dump({**BERT_CONFIG, "model_type": "bert"}, f)
    message = _refused(DataError, _target(), str(tmp_path), "pytorch_model.bin")
    assert "safetensors" in message and "save_file" in message


def test_google_checkpoint_without_config_is_refused(google_checkpoint, tmp_path):
    for name in os.listdir(google_checkpoint):
        if name.startswith("bert_model.ckpt"):
            os.symlink(os.path.join(google_checkpoint, name), tmp_path / name)
    _refused(MissingFileError, _target(), str(tmp_path), "bert_config.json")


MISMATCHES = [
    ("vocab_size", {"vocab_size": 96}, "vocab_size=96 but the source has 64"),
    ("hidden_size", {"hidden_size": 32}, "hidden_size=32 but the source has 16"),
    ("num_layers", {"num_layers": 3}, "num_layers=3 but the source has 4"),
    ("num_attention_heads", {"num_attention_heads": 4}, "num_attention_heads=4 but the source has 2"),
    ("inner_dim", {"inner_dim": 64}, "intermediate_size=64 but the source has 32"),
    ("max_sequence_length", {"max_sequence_length": 12}, "max_position_embeddings=12 but the source has 16"),
    ("type_vocab_size", {"type_vocab_size": 3}, "type_vocab_size=3 but the source has 2"),
]


@pytest.mark.parametrize("overrides,expected", [m[1:] for m in MISMATCHES], ids=[m[0] for m in MISMATCHES])
def test_shape_mismatch_names_our_key_and_both_values(masked_lm_preset, overrides, expected):
    message = _refused(ConfigurationError, _target(**overrides), masked_lm_preset, "does not fit the model")
    assert f"task.model.encoder.any.{expected}" in message


@pytest.mark.parametrize("kind", ["transformers", "independent", "google", "ours"])
def test_shape_mismatch_of_every_format(kind, request):
    path = {"transformers": "exported_transformers", "independent": "independent_transformers",
            "google": "google_checkpoint", "ours": "our_checkpoint"}[kind]
    message = _refused(ConfigurationError, _target(vocab_size=96, num_layers=3),
                       request.getfixturevalue(path), "does not fit the model")
    assert "vocab_size=96 but the source has 64" in message and "num_layers=3 but the source has 4" in message


@pytest.mark.parametrize("kind", ["keras_hub", "transformers", "google"])
def test_vocabulary_size_mismatch_is_refused(kind, request, tmp_path):
    path = {"keras_hub": "masked_lm_preset", "transformers": "exported_transformers",
            "google": "google_checkpoint"}[kind]
    short = _write_vocab(tmp_path / "short.txt", TOKENS[:-1])
    message = _refused(ConfigurationError, _target(), request.getfixturevalue(path), "has 63 tokens",
                       vocab_file=short)
    assert "has 64" in message


def test_special_token_ids_mismatch_is_refused(masked_lm_preset, tmp_path):
    swapped = list(TOKENS)
    swapped[2], swapped[3] = swapped[3], swapped[2]
    message = _refused(ConfigurationError, _target(), masked_lm_preset, "special tokens other ids",
                       vocab_file=_write_vocab(tmp_path / "swapped.txt", swapped))
    assert "[CLS] is 3 there and 2 in the source" in message


def test_other_tokens_differing_are_reported(masked_lm_preset, tmp_path):
    renamed = TOKENS[:-2] + ["domain1", "domain2"]
    report = initialize_from(_target(), masked_lm_preset,
                             vocab_file=_write_vocab(tmp_path / "domain.txt", renamed))
    assert "2 tokens of task.vocab_file differ" in report.line()


@pytest.mark.parametrize("config,match", [
    ({"registered_name": "keras_hub>RobertaBackbone", "config": {}}, "not a BERT"),
    ({"model_type": "roberta"}, "not a BERT"),
    ({**BERT_CONFIG, "model_type": "bert", "hidden_act": "relu"}, "hidden_act='relu'"),
])
def test_other_models_are_refused(tmp_path, config, match):
    with open(tmp_path / "config.json", "w") as f:
        json.dump(config, f)
    (tmp_path / "model.safetensors").write_bytes(b"")
    _refused(DataError, _target(), str(tmp_path), match)


def test_checkpoint_of_a_trained_pretrainer(tmp_path, features):
    """As the trainer saves it: compiled (metrics, optimizer slots) and
    stepped, with the next-sentence head; the importance table has moved."""
    trained = _target(next_sentence=True, token_selection="frequency")
    trained.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    labelled = {**features, "next_sentence_labels": np.ones([len(features["input_mask"])], np.int32)}
    trained.fit(tf.data.Dataset.from_tensors(labelled).repeat(2), verbose=0)
    tf.train.Checkpoint(model=trained, optimizer=trained.optimizer).save(str(tmp_path / "ckpt"))
    target = _target(next_sentence=True)
    report = initialize_from(target, str(tmp_path))
    for ours, theirs in zip(_ours(target, labelled), _ours(trained, labelled)):
        _assert_close(ours, theirs)
    _assert_close(target(labelled, training=False)["next_sentence"], trained(labelled, training=False)["next_sentence"])
    assert report.initialized == len(target.weights) - 1


# === Through the trainer: `task.init_checkpoint` of an experiment ===
def test_run_starts_from_init_checkpoint_and_a_resume_wins(exported, demo_data, tmp_path, capsys):
    from conftest import runner, tiny_params

    preset, source, features = exported
    params = tiny_params(demo_data)
    params.override({"task": {"init_checkpoint": preset}})
    fresh = runner(params, str(tmp_path / "run"))
    assert fresh.restore() is None
    assert fresh.step == 0
    line = capsys.readouterr().err
    assert f"init_checkpoint {preset} (keras-hub preset): initialized " in line
    expected, got = _ours(source, features), _ours(fresh.model, features)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, atol=1e-5)

    # A model_dir that holds a checkpoint resumes from it; the source is not applied again.
    resumed_dir = str(tmp_path / "resumed")
    first = runner(tiny_params(demo_data), resumed_dir)
    first.restore()
    first.manager.save(check_interval=False)
    weights = [w.numpy() for w in first.model.encoder.weights]
    resumed = runner(params, resumed_dir)
    assert resumed.restore() is not None
    assert "task.init_checkpoint " + preset + " is not applied again" in capsys.readouterr().err
    for a, b in zip(weights, resumed.model.encoder.weights):
        np.testing.assert_array_equal(b.numpy(), a)


def test_unfit_init_checkpoint_is_refused_before_model_dir_is_written(exported, demo_data, tmp_path):
    from conftest import tiny_params
    from official_tokendrop import train

    preset = exported[0]
    for source, error, message in [
        (str(tmp_path / "nowhere"), MissingFileError, "does not exist"),
        (preset, ConfigurationError, "task.model.encoder.any.hidden_size=48 but the source has 32"),
    ]:
        params = tiny_params(demo_data)
        params.override({"task": {"init_checkpoint": source,
                                  "model": {"encoder": {"any": {"hidden_size": 48}}}}})
        model_dir = tmp_path / "refused"
        with pytest.raises(error, match=message):
            train.run(params, str(model_dir), "train")
        assert not model_dir.exists()


def test_our_model_dir_takes_form_and_vocabulary_from_its_params(pretrained, tmp_path):
    """The run's params.yaml (read by `read_params`, its one reader) gives
    the GELU form and the vocabulary; a broken one is one line."""
    import shutil

    from official_tokendrop.interop.init_checkpoint import read_source

    model_dir, params = pretrained
    found = read_source(model_dir)
    assert found.format == init_checkpoint.OURS and found.architecture["hidden_activation"] == "gelu"
    assert found.vocabulary == params.task.vocab_file and not found.notes
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "params.yaml").write_text("task: [unclosed\n")
    with pytest.raises(DataError, match=r"params.yaml is not a readable experiment config") as caught:
        read_source(str(broken))
    assert "\n" not in str(caught.value)
