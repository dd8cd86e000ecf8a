"""Export in Hugging Face transformers' BERT format, read back without PyTorch."""

import json
import os
import shutil

import keras_hub
import numpy as np
import pytest
from safetensors.numpy import load_file

from official_tokendrop.export import export
from official_tokendrop.interop.transformers import HIDDEN_ACT

from conftest import run_program


@pytest.fixture(scope="module")
def hf_dir(pretrained, tmp_path_factory):
    model_dir, _ = pretrained
    output = str(tmp_path_factory.mktemp("hf") / "bert")
    export(model_dir, output, format="transformers")
    return output


@pytest.fixture(scope="module")
def ours(exported):
    _, pretrainer, batch = exported
    return pretrainer, batch


def test_keras_hub_transformers_reader_gives_our_encoder_outputs(hf_dir, ours):
    pretrainer, batch = ours
    backbone = keras_hub.models.BertBackbone.from_preset(hf_dir)
    theirs = backbone({"token_ids": batch["input_word_ids"], "segment_ids": batch["input_type_ids"],
                       "padding_mask": batch["input_mask"]})
    mine = pretrainer.encoder({k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")},
                              training=False)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(theirs[key], mine[key], atol=1e-5)


def _gelu(x, tanh):
    if tanh:  # transformers' gelu_new
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    from scipy.special import erf

    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def _transformers_mlm_logits(weights, sequence_output, positions, tanh, epsilon):
    """BertForMaskedLM's head, written from transformers' formula in NumPy."""
    h = np.take_along_axis(sequence_output, positions[..., None], axis=1)
    h = h @ weights["cls.predictions.transform.dense.weight"].T + weights["cls.predictions.transform.dense.bias"]
    h = _gelu(h, tanh)
    mean, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
    h = (h - mean) / np.sqrt(var + epsilon)
    h = h * weights["cls.predictions.transform.LayerNorm.weight"] + weights["cls.predictions.transform.LayerNorm.bias"]
    # Tied decoder: the word embeddings, plus cls.predictions.bias.
    return h @ weights["bert.embeddings.word_embeddings.weight"].T + weights["cls.predictions.bias"]


def test_head_weights_tied_and_logits_match(hf_dir, ours):
    pretrainer, batch = ours
    weights = load_file(os.path.join(hf_dir, "model.safetensors"))
    assert "cls.predictions.decoder.weight" not in weights  # tied: stored once, as transformers does
    layers = pretrainer.encoder.num_layers
    assert len(weights) == 5 + 2 + 16 * layers + 5  # embeddings, pooler, blocks, head
    inputs = {k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    sequence = np.asarray(pretrainer.encoder(inputs, training=False)["sequence_output"])
    mine = np.asarray(pretrainer(batch, training=False)["mlm_logits"])
    positions = batch["masked_lm_positions"]
    # Our head (keras-hub's MaskedLMHead): exact GELU, layer-norm epsilon 1e-5.
    exact = _transformers_mlm_logits(weights, sequence, positions, tanh=False, epsilon=1e-5)
    np.testing.assert_allclose(exact, mine, atol=1e-5)  # names, transposes and tying are right
    # transformers runs the head with the blocks' gelu_new (tanh form) and
    # their layer_norm_eps 1e-12: a small, bounded difference (BUILD_NOTES.md).
    tanh = _transformers_mlm_logits(weights, sequence, positions, tanh=True, epsilon=1e-12)
    difference = np.max(np.abs(tanh - mine))
    print(f"transformers' head vs ours: max |logit difference| {difference:.2e}")
    assert 0 < difference < 1e-2, difference


def test_config_and_tokenizer_files(hf_dir, pretrained, ours):
    model_dir, params = pretrained
    pretrainer, _ = ours
    encoder = pretrainer.encoder
    with open(os.path.join(hf_dir, "config.json")) as f:
        config = json.load(f)
    assert config["model_type"] == "bert" and config["architectures"] == ["BertForMaskedLM"]
    assert config["hidden_act"] == HIDDEN_ACT["gelu"] == "gelu_new"
    assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"],
            config["num_attention_heads"], config["intermediate_size"],
            config["max_position_embeddings"], config["type_vocab_size"]) == (
        encoder.vocab_size, encoder.hidden_size, encoder.num_layers, encoder.num_attention_heads,
        encoder.inner_dim, encoder.max_sequence_length, encoder.type_vocab_size)
    assert config["layer_norm_eps"] == 1e-12 and config["tie_word_embeddings"] is True
    with open(os.path.join(hf_dir, "tokenizer_config.json")) as f:
        tokenizer_config = json.load(f)
    assert tokenizer_config["tokenizer_class"] == "BertTokenizer"
    assert tokenizer_config["do_lower_case"] is True and tokenizer_config["strip_accents"] is False
    with open(params.task.vocab_file) as f, open(os.path.join(hf_dir, "vocab.txt")) as g:
        assert f.read().split() == g.read().split()
    assert config["pad_token_id"] == 0
    tokenizer = keras_hub.models.BertTokenizer.from_preset(hf_dir)
    reference = keras_hub.models.BertTokenizer(vocabulary=params.task.vocab_file, lowercase=True)
    text = "Returns the Value of the given key."
    np.testing.assert_array_equal(tokenizer(text), reference(text))


def _cli(capsys, *args):
    """The export program's status and stderr (run in process)."""
    status = run_program("official_tokendrop.export", *args)
    return status, capsys.readouterr().err


def test_refusals_write_nothing(pretrained, hf_dir, tmp_path, capsys):
    model_dir, params = pretrained
    before = {name: os.path.getmtime(os.path.join(hf_dir, name)) for name in os.listdir(hf_dir)}
    status, err = _cli(capsys, f"--model_dir={model_dir}", f"--output={hf_dir}", "--format=transformers")
    assert status == 1
    assert err.strip().splitlines()[-1] == (
        f"export: error: {hf_dir} already exists; pass --overwrite to replace it.")
    assert {n: os.path.getmtime(os.path.join(hf_dir, n)) for n in os.listdir(hf_dir)} == before
    status, err = _cli(capsys, f"--model_dir={model_dir}", f"--output={tmp_path / 'x'}", "--format=onnx")
    assert status != 0 and "--format" in err and "onnx" in err
    assert "Traceback" not in err and not (tmp_path / "x").exists()
    # A checkpoint from another architecture: params.yaml says one layer
    # more, or one fewer (dropping off: 2 layers cannot drop), than the
    # checkpoint holds.
    trained = params.task.model.encoder.any.num_layers
    keep = params.task.model.encoder.any.token_keep_k
    for layers in (trained + 1, trained - 1):
        other = tmp_path / f"other_{layers}"
        shutil.copytree(model_dir, other)
        text = (other / "params.yaml").read_text()
        assert text.count(f"num_layers: {trained}\n") == 1 and text.count(f"token_keep_k: {keep}\n") == 1
        text = text.replace(f"num_layers: {trained}\n", f"num_layers: {layers}\n")
        if layers < trained:
            text = text.replace(f"token_keep_k: {keep}\n", "token_keep_k: null\n")
        (other / "params.yaml").write_text(text)
        output = tmp_path / f"out_{layers}"
        with pytest.raises(ValueError, match="does not match the model of"):
            export(str(other), str(output), format="transformers")
        assert not output.exists() and not (tmp_path / f"out_{layers}.incomplete").exists()


def test_overwrite_replaces(pretrained, tmp_path):
    model_dir, _ = pretrained
    output = tmp_path / "out"
    output.mkdir()
    (output / "stale.txt").write_text("old")
    export(model_dir, str(output), format="transformers", overwrite=True)
    assert sorted(os.listdir(output)) == ["config.json", "model.safetensors", "special_tokens_map.json",
                                          "tokenizer_config.json", "vocab.txt"]
