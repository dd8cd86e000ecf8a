"""A BERT directory as sentence-transformers ships MiniLM (`BertModel`'s
names without `bert.`, a pooler, exact GELU, `tokenizer.json` and no
vocab.txt) through `task.init_checkpoint`, against a NumPy BERT forward of
the same weights; and its exports, each in the form its format holds."""

import json
import logging
import math

import keras
import keras_hub
import numpy as np
import pytest

from conftest import SEQ, VOCAB, batch, encoder_inputs, tiny_encoder
from official_tokendrop.data.vocabulary import SPECIAL_TOKENS, load_vocabulary
from official_tokendrop.interop.init_checkpoint import TRANSFORMERS, initialize_from, read_source
from official_tokendrop.interop.keras_hub import write_preset
from official_tokendrop.interop.transformers import write_transformers
from official_tokendrop.models import BertPretrainer
from transformers_files import write_bert_model_directory

TOKENS = list(SPECIAL_TOKENS) + ["café", "naïve"] + [f"tok{i}" for i in range(7, VOCAB)]
CONFIG = {"vocab_size": VOCAB, "hidden_size": 16, "num_hidden_layers": 4, "num_attention_heads": 2,
          "intermediate_size": 32, "max_position_embeddings": SEQ, "type_vocab_size": 2, "hidden_act": "gelu",
          "layer_norm_eps": 1e-12, "position_embedding_type": "absolute"}


# === A NumPy BERT, as transformers' BertModel computes it ===
def _layer_norm(x, tensors, name):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + 1e-12) * tensors[f"{name}.weight"] + tensors[f"{name}.bias"]


def _linear(x, tensors, name):
    return x @ tensors[f"{name}.weight"].T + tensors[f"{name}.bias"]


def _erf_gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _attention(x, mask, tensors, prefix, heads):
    batch_size, length, hidden = x.shape

    def split(name):
        return _linear(x, tensors, f"{prefix}.self.{name}").reshape(
            batch_size, length, heads, hidden // heads).transpose(0, 2, 1, 3)

    scores = split("query") @ split("key").transpose(0, 1, 3, 2) / math.sqrt(hidden // heads)
    scores = scores + (1.0 - mask[:, None, None, :]) * -1e9
    probabilities = np.exp(scores - scores.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    context = (probabilities @ split("value")).transpose(0, 2, 1, 3).reshape(batch_size, length, hidden)
    return _layer_norm(_linear(context, tensors, f"{prefix}.output.dense") + x, tensors,
                       f"{prefix}.output.LayerNorm")


def numpy_bert(tensors, inputs, config=CONFIG):
    """(sequence output, pooled output) of `BertModel` in float64."""
    tensors = {k: v.astype("float64") for k, v in tensors.items()}
    ids, mask, types = (inputs[k] for k in ("input_word_ids", "input_mask", "input_type_ids"))
    x = (tensors["embeddings.word_embeddings.weight"][ids]
         + tensors["embeddings.position_embeddings.weight"][: ids.shape[1]]
         + tensors["embeddings.token_type_embeddings.weight"][types])
    x = _layer_norm(x, tensors, "embeddings.LayerNorm")
    for i in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{i}"
        attended = _attention(x, mask.astype("float64"), tensors, f"{prefix}.attention",
                              config["num_attention_heads"])
        inner = _erf_gelu(_linear(attended, tensors, f"{prefix}.intermediate.dense"))
        x = _layer_norm(_linear(inner, tensors, f"{prefix}.output.dense") + attended, tensors,
                        f"{prefix}.output.LayerNorm")
    return x, np.tanh(_linear(x[:, 0], tensors, "pooler.dense"))


# === The directory ===
@pytest.fixture(scope="module")
def minilm_like(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hf") / "minilm_like"
    return str(directory), write_bert_model_directory(directory, CONFIG, TOKENS, seed=3)


@pytest.fixture(scope="module")
def inputs():
    return encoder_inputs(batch(seed=5))


def _outputs(encoder, inputs):
    encoded = encoder(inputs, training=False)
    return encoded["sequence_output"].numpy(), encoded["pooled_output"].numpy()


def test_read_source_names_the_form_and_the_shipped_vocabulary(minilm_like):
    directory, _ = minilm_like
    source = read_source(directory)
    assert source.format == TRANSFORMERS and source.architecture["hidden_activation"] == "gelu_exact"
    assert source.vocabulary == f"{directory}/tokenizer.json"
    vocab = load_vocabulary(source.vocabulary)
    assert vocab.tokens == tuple(TOKENS) and vocab.normalisation == {"lowercase": True, "strip_accents": True}
    backbone, head, nsp = source.load()
    assert head is None and nsp is None and source.has_pooler
    assert backbone.get_layer("token_embedding").embeddings.shape == (VOCAB, 16)


def test_loaded_model_equals_a_numpy_bert_of_the_same_weights(minilm_like, inputs):
    directory, tensors = minilm_like
    target = BertPretrainer(tiny_encoder(hidden_activation="gelu_exact"))
    report = initialize_from(target, directory, vocab_file=f"{directory}/tokenizer.json")
    sequence, pooled = _outputs(target.encoder, inputs)
    expected_sequence, expected_pooled = numpy_bert(tensors, inputs)
    np.testing.assert_allclose(sequence, expected_sequence, atol=1e-5)
    np.testing.assert_allclose(pooled, expected_pooled, atol=1e-5)
    # The MLM head (5 variables of its own) and the importance table start fresh.
    assert report.initialized == len(target.weights) - 1 - 5
    assert report.fresh == ("masked-LM head (the source has none)", "token importance table", "optimizer and step")
    assert not report.notes and "masked-LM head (the source has none)" in report.line()
    # The tanh form with the same weights is what the old loader gave.
    tanh = tiny_encoder()
    tanh.set_weights(target.encoder.get_weights())
    assert np.max(np.abs(_outputs(tanh, inputs)[0] - expected_sequence)) > 1e-4


@pytest.fixture(scope="module")
def continued(minilm_like):
    directory, _ = minilm_like
    keras.utils.set_random_seed(0)
    pretrainer = BertPretrainer(tiny_encoder(hidden_activation="gelu_exact"))
    initialize_from(pretrainer, directory)
    return pretrainer, f"{directory}/tokenizer.json"


def test_transformers_export_keeps_the_form_and_the_normalisation(continued, inputs, tmp_path):
    pretrainer, vocab_file = continued
    out = write_transformers(pretrainer, vocab_file, str(tmp_path / "hf"), SEQ)
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    settings = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert config["hidden_act"] == "gelu"
    assert (settings["do_lower_case"], settings["strip_accents"]) == (True, True)
    exported = load_vocabulary(out)
    assert exported.tokens == tuple(TOKENS) and exported.normalisation == load_vocabulary(vocab_file).normalisation
    again = BertPretrainer(tiny_encoder(hidden_activation="gelu_exact"))
    initialize_from(again, out, vocab_file=vocab_file)
    np.testing.assert_allclose(_outputs(again.encoder, inputs)[0], _outputs(pretrainer.encoder, inputs)[0],
                               atol=1e-6)


def test_keras_hub_export_warns_of_the_tanh_form(continued, tmp_path, caplog):
    pretrainer, vocab_file = continued
    with caplog.at_level(logging.WARNING):
        write_preset(pretrainer, vocab_file, str(tmp_path / "preset"), SEQ)
    (warning,) = [r.getMessage() for r in caplog.records if "tanh form" in r.getMessage()]
    difference = float(warning.split("by about ")[1].split(" ")[0])
    assert 1e-5 < difference < 0.5 and "hidden_activation=gelu_exact" in warning
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(tmp_path / "preset"))
    expected = load_vocabulary(vocab_file).tokenizer()
    text = "Café NAÏVE tok9"
    np.testing.assert_array_equal(tokenizer(text), expected(text))
    assert [TOKENS[i] for i in np.asarray(tokenizer(text))] == ["[UNK]", "[UNK]", "tok9"]


def test_trainer_starts_from_the_directory_with_its_tokenizer_json(demo_data, tmp_path, capsys):
    """`task.init_checkpoint` = the directory and `task.vocab_file` = its
    tokenizer.json, as `train.run` checks and the runner applies them."""
    from conftest import DEMO_SEQ, runner, tiny_params
    from official_tokendrop.core.task import check_model
    from official_tokendrop import train
    from official_tokendrop.errors import ConfigurationError
    from official_tokendrop.utils import synthetic

    config = {**CONFIG, "vocab_size": 2000, "hidden_size": 32, "num_hidden_layers": 3, "intermediate_size": 64,
              "max_position_embeddings": DEMO_SEQ}
    directory = tmp_path / "minilm_demo"
    tensors = write_bert_model_directory(directory, config, list(load_vocabulary(demo_data.vocab_file).tokens))
    params = tiny_params(demo_data)
    params.override({"task": {"init_checkpoint": str(directory), "vocab_file": str(directory / "tokenizer.json")}})
    with pytest.raises(ConfigurationError, match="hidden_activation=gelu but the source has gelu_exact"):
        train.check_init_checkpoint(params.task, check_model(params.task), str(tmp_path / "run"))
    params.override({"task": {"model": {"encoder": {"any": {"hidden_activation": "gelu_exact"}}}}})
    train.check_init_checkpoint(params.task, check_model(params.task), str(tmp_path / "run"))
    run = runner(params, str(tmp_path / "run"))
    assert run.restore() is None and run.step == 0
    assert "fresh: masked-LM head (the source has none), token importance table" in capsys.readouterr().err
    inputs = encoder_inputs(synthetic.pretraining_batch(2, DEMO_SEQ, 5, 2000, seed=1))
    expected, _ = numpy_bert(tensors, inputs, config)
    np.testing.assert_allclose(_outputs(run.model.encoder, inputs)[0], expected, atol=1e-5)
