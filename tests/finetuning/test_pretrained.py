"""`load_pretrained`: any BERT a user holds, as one backbone, tokenizer and
vocabulary, and its one-line refusals."""

import os
import shutil

import numpy as np
import pytest

from conftest import DEMO_SEQ
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError
from official_tokendrop.finetuning.pretrained import load_pretrained


def test_our_export_loads_with_its_weights_and_vocabulary(exported):
    preset, pretrainer, batch = exported
    pretrained = load_pretrained(preset)
    assert pretrained.max_sequence_length == DEMO_SEQ
    assert pretrained.vocabulary.tokens[:5] == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert pretrained.tokenizer.vocabulary_size() == len(pretrained.vocabulary)
    outputs = pretrained.backbone({"token_ids": batch["input_word_ids"], "segment_ids": batch["input_type_ids"],
                                   "padding_mask": batch["input_mask"]})
    inputs = {k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    np.testing.assert_allclose(outputs["sequence_output"],
                               pretrainer.encoder(inputs, training=False)["sequence_output"], atol=1e-5)
    features = pretrained.preprocessor(8)(["a b"])
    assert features["token_ids"].shape == (1, 8)
    assert int(features["token_ids"][0, 0]) == pretrained.vocabulary.id("[CLS]")
    with pytest.raises(ConfigurationError, match=rf"--sequence_length={DEMO_SEQ + 1} exceeds the preset's "
                                                 rf"{DEMO_SEQ} position embeddings"):
        pretrained.preprocessor(DEMO_SEQ + 1)


def test_a_training_model_dir_loads_as_its_export_does(pretrained, exported):
    """A model_dir (params.yaml + ckpt-N) needs no export first: the same
    backbone outputs and vocabulary as the keras-hub preset exported from it."""
    model_dir, _ = pretrained
    preset, _, batch = exported
    direct, through_export = load_pretrained(model_dir), load_pretrained(preset)
    assert direct.vocabulary.tokens == through_export.vocabulary.tokens
    inputs = {"token_ids": batch["input_word_ids"], "segment_ids": batch["input_type_ids"],
              "padding_mask": batch["input_mask"]}
    np.testing.assert_allclose(direct.backbone(inputs)["sequence_output"],
                               through_export.backbone(inputs)["sequence_output"], atol=1e-6)


def test_bad_presets_are_one_line(exported, tmp_path):
    preset, _, _ = exported
    with pytest.raises(MissingFileError, match=r"Preset .*nowhere does not exist; export one"):
        load_pretrained(str(tmp_path / "nowhere"))
    roberta = tmp_path / "roberta"
    roberta.mkdir()
    (roberta / "config.json").write_text('{"model_type": "roberta"}')
    with pytest.raises(DataError, match=r"roberta is a transformers 'roberta' model, not a BERT"):
        load_pretrained(str(roberta))
    no_tokenizer = tmp_path / "no_tokenizer"
    shutil.copytree(preset, no_tokenizer)
    os.remove(no_tokenizer / "tokenizer.json")
    with pytest.raises(MissingFileError, match=r"lacks \['tokenizer.json'\]"):
        load_pretrained(str(no_tokenizer))
    too_many = tmp_path / "too_many"
    shutil.copytree(preset, too_many)
    vocabulary = too_many / "assets" / "tokenizer" / "vocabulary.txt"
    tokens = len(vocabulary.read_text().split())
    vocabulary.write_text(vocabulary.read_text() + "".join(f"extra{i}\n" for i in range(5000)))
    with pytest.raises(DataError, match=rf"its vocabulary has {tokens + 5000} tokens but the model embeds only "
                                        r"\d+ \(.*vocabulary.txt\)"):
        load_pretrained(str(too_many))


@pytest.mark.slow
def test_a_transformers_directory_loads_with_or_without_the_bert_prefix(pretrained, exported, tmp_path):
    """Our `--format=transformers` export (BertForMaskedLM's names, no
    pooler), and the same weights under BertModel's bare names."""
    from safetensors.numpy import load_file, save_file

    from official_tokendrop.export import export

    model_dir, _ = pretrained
    _, pretrainer, batch = exported
    directory = tmp_path / "hf"
    export(model_dir, str(directory), format="transformers")
    bare = tmp_path / "bare"
    shutil.copytree(directory, bare)
    weights = load_file(str(bare / "model.safetensors"))
    save_file({k.removeprefix("bert."): v for k, v in weights.items() if k.startswith("bert.")},
              str(bare / "model.safetensors"), metadata={"format": "pt"})
    inputs = {k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    expected = pretrainer.encoder(inputs, training=False)["sequence_output"]
    for path in (directory, bare):
        loaded = load_pretrained(str(path))
        assert loaded.backbone.dropout == 0.1  # BERT's fine-tuning dropout, not the copy's 0
        assert loaded.vocabulary.tokens == load_pretrained(exported[0]).vocabulary.tokens
        outputs = loaded.backbone({"token_ids": batch["input_word_ids"], "segment_ids": batch["input_type_ids"],
                                   "padding_mask": batch["input_mask"]}, training=False)
        np.testing.assert_allclose(outputs["sequence_output"], expected, atol=1e-5)


def test_a_sentence_transformers_directory_with_only_tokenizer_json(tmp_path, capsys):
    """MiniLM's layout: BertModel's bare names, a pooler, exact GELU,
    tokenizer.json and no vocab.txt; text is normalised as its
    tokenizer.json says (lower-cased, accents stripped)."""
    from transformers_files import write_bert_model_directory

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "café", "naive"]
    config = {"vocab_size": len(tokens), "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2, "hidden_act": "gelu"}
    tensors = write_bert_model_directory(tmp_path / "minilm_like", config, tokens)
    pretrained = load_pretrained(str(tmp_path / "minilm_like"))
    assert pretrained.vocabulary.path.endswith("tokenizer.json") and pretrained.vocabulary.tokens == tuple(tokens)
    assert [tokens[i] for i in np.asarray(pretrained.tokenizer("Café NAIVE"))] == ["cafe", "naive"]
    np.testing.assert_array_equal(pretrained.backbone.get_layer("token_embedding").embeddings.numpy(),
                                  tensors["embeddings.word_embeddings.weight"])
    assert pretrained.backbone.dropout == 0.1
    assert "its blocks compute gelu_exact (exact GELU), keras-hub's BertBackbone" in capsys.readouterr().err
