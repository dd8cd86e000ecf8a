"""Export to a keras-hub preset or transformers' format, and fine-tuning."""

import os
import shutil

import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from official.modeling import hyperparams

from conftest import DEMO_SEQ, tiny_params
from official_tokendrop.errors import OutputWriteError
from official_tokendrop.export import export
from official_tokendrop.data.task_rows import read_task_file
from official_tokendrop.finetune import finetune
from official_tokendrop.finetuning.pretrained import load_pretrained


def test_exported_backbone_equals_encoder_inference(exported):
    preset, pretrainer, batch = exported
    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    theirs = backbone({
        "token_ids": batch["input_word_ids"], "segment_ids": batch["input_type_ids"],
        "padding_mask": batch["input_mask"],
    })
    inputs = {k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    ours = pretrainer.encoder(inputs, training=False)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(theirs[key], ours[key], atol=1e-5)


def test_exported_masked_lm_predicts_what_we_predict(exported):
    preset, pretrainer, batch = exported
    masked_lm = keras_hub.models.BertMaskedLM.from_preset(preset)
    theirs = masked_lm({
        "token_ids": batch["input_word_ids"], "segment_ids": batch["input_type_ids"],
        "padding_mask": batch["input_mask"], "mask_positions": batch["masked_lm_positions"],
    })
    ours = pretrainer(batch, training=False)["mlm_logits"]
    np.testing.assert_allclose(theirs, ours, atol=1e-4)
    np.testing.assert_array_equal(np.argmax(theirs, -1), np.argmax(ours, -1))
    tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
    assert tokenizer.vocabulary_size() <= pretrainer.encoder.vocab_size
    assert keras_hub.models.BertTextClassifier.from_preset(preset, num_classes=3) is not None


def _keyword_task(sample_text, directory):
    """Balanced sentences: does the sentence contain 'return'? (TSV splits)."""
    with open(sample_text) as f:
        sentences = [s.strip() for s in f if len(s.split()) > 3]
    words = [set(s.lower().replace(".", " ").split()) for s in sentences]
    yes = [s for s, w in zip(sentences, words) if "return" in w or "returns" in w]
    no = [s for s, w in zip(sentences, words) if not w & {"return", "returns", "returned"}]
    rows = [f"yes\t{s}" for s in yes] + [f"no\t{s}" for s in no[: len(yes)]]
    np.random.default_rng(0).shuffle(rows)
    n = len(rows)
    paths = {}
    for name, part in (("train", rows[: n * 6 // 10]), ("dev", rows[n * 6 // 10 : n * 8 // 10]), ("test", rows[n * 8 // 10 :])):
        paths[name] = os.path.join(directory, f"{name}.tsv")
        with open(paths[name], "w") as f:
            f.write("\n".join(part) + "\n")
    return paths


@pytest.mark.slow
def test_finetuning_beats_the_majority_baseline(exported, sample_text, tmp_path):
    preset, _, _ = exported
    paths = _keyword_task(sample_text, str(tmp_path))
    results = finetune(preset, paths["train"], paths["dev"], paths["test"], epochs=4,
                       batch_size=16, learning_rate=2e-3, sequence_length=DEMO_SEQ, verbose=0)
    assert results["train_examples"] > 100 and results["num_classes"] == 2
    assert results["test"]["accuracy"] > results["majority_baseline"] + 0.1
    assert 0 < results["test"]["macro_f1"] <= 1


def test_bad_inputs_name_the_file_and_line(exported, demo_data, tmp_path):
    preset, _, _ = exported
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tone sentence\nb\ttwo\tcolumns\there\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 2 tab-separated columns"):
        read_task_file(str(bad))
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="empty.tsv holds no examples"):
        read_task_file(str(empty))
    good = tmp_path / "good.tsv"
    good.write_text("a\tfirst sentence here\nb\tsecond sentence here\n")
    unseen = tmp_path / "unseen.tsv"
    unseen.write_text("a\tfine\nc\tnew label\n")
    with pytest.raises(ValueError, match=r"unseen.tsv: example 2 has label 'c'"):
        finetune(preset, str(good), str(good), str(unseen), epochs=1, verbose=0)
    broken = tmp_path / "broken_preset"
    shutil.copytree(preset, broken)
    os.remove(broken / "tokenizer.json")
    with pytest.raises(FileNotFoundError, match=r"lacks \['tokenizer.json'\]"):
        finetune(str(broken), str(good), str(good), str(good), epochs=1, verbose=0)
    no_checkpoint = tmp_path / "no_checkpoint"
    no_checkpoint.mkdir()
    hyperparams.save_params_dict_to_yaml(tiny_params(demo_data), str(no_checkpoint / "params.yaml"))
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        export(str(no_checkpoint), str(tmp_path / "out"))


def test_label_noise_and_inconsistent_presets_are_caught(exported, tmp_path):
    preset, _, _ = exported
    noisy = tmp_path / "noisy.tsv"
    noisy.write_bytes("\ufeffpos\tgood film\npos \tgreat film\nneg\tbad film\n".encode("utf-8"))
    assert read_task_file(str(noisy)).labels == ["pos", "pos", "neg"]  # BOM and trailing space gone
    one_class = tmp_path / "one.tsv"
    one_class.write_text("pos\tgood film\npos\tgreat film\n")
    with pytest.raises(ValueError, match=r"every training example has the label 'pos'"):
        finetune(preset, str(one_class), str(one_class), str(one_class), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=rf"--sequence_length={DEMO_SEQ + 1} exceeds the preset's {DEMO_SEQ}"):
        finetune(preset, str(noisy), str(noisy), str(noisy), epochs=1, sequence_length=DEMO_SEQ + 1, verbose=0)
    broken = tmp_path / "broken"
    shutil.copytree(preset, broken)
    vocabulary = broken / "assets" / "tokenizer" / "vocabulary.txt"
    vocabulary.write_text(vocabulary.read_text() + "".join(f"extra{i}\n" for i in range(5000)))
    with pytest.raises(ValueError, match=r"its vocabulary has \d+ tokens but the model embeds only"):
        finetune(str(broken), str(noisy), str(noisy), str(noisy), epochs=1, sequence_length=DEMO_SEQ, verbose=0)


def test_build_then_restore_pretrainer_round_trips(demo_data, tmp_path):
    """A fresh pretrainer saved as a model_dir's checkpoint comes back from
    `restore_pretrainer` with every weight equal, bit for bit."""
    from official.core import train_utils

    from official_tokendrop.core.pretrainers import build_pretrainer, restore_pretrainer

    params = tiny_params(demo_data)
    model_dir = str(tmp_path)
    saved = build_pretrainer(params.task)
    train_utils.serialize_config(params, model_dir)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=saved), model_dir, max_to_keep=1).save(checkpoint_number=7)
    restored, restored_params, vocab_file, checkpoint = restore_pretrainer(model_dir)
    assert checkpoint == os.path.join(model_dir, "ckpt-7")
    assert vocab_file == demo_data.vocab_file
    assert restored_params.task.as_dict() == params.task.as_dict()
    assert restored is not saved and len(restored.weights) == len(saved.weights)
    fresh = build_pretrainer(params.task)  # other random weights: the restore is what makes them equal
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(fresh.weights, saved.weights))
    for ours, theirs in zip(saved.weights, restored.weights):
        assert ours.shape == theirs.shape
        np.testing.assert_array_equal(theirs.numpy(), ours.numpy(), err_msg=ours.path)


def test_presets_keras_hub_cannot_read_are_one_line(tmp_path):
    """What a user with BERTs from elsewhere passes as --preset."""
    cases = {
        "missing": (None, r"Preset .*missing does not exist; export one"),
        "truncated": ('{"model_type": "bert", ', r"truncated/config.json is not readable JSON \(Expecting"),
        "roberta": ('{"model_type": "roberta"}', r"roberta is a transformers 'roberta' model, not a BERT"),
        "torch_only": ('{"model_type": "bert"}', r"torch_only holds pytorch_model.bin but no model.safetensors"),
        "no_config": ("", r"no_config holds pytorch_model.bin without a transformers config.json"),
    }
    for name, (config, message) in cases.items():
        directory = tmp_path / name
        if config is not None:
            directory.mkdir()
            (directory / "pytorch_model.bin").write_bytes(b"")
            if config:
                (directory / "config.json").write_text(config)
        with pytest.raises(ValueError, match=message):
            load_pretrained(str(directory))


@pytest.mark.slow
def test_finetuning_reads_a_transformers_directory(pretrained, tmp_path):
    """`--preset` takes our `--format=transformers` export too (keras-hub
    reads it); its positions are checked as a preset's are."""
    model_dir, _ = pretrained
    directory = str(tmp_path / "hf")
    export(model_dir, directory, format="transformers")
    data = tmp_path / "films.tsv"
    data.write_text("pos\tgood film\nneg\tbad film\npos\tgreat film\nneg\tawful film\n")
    with pytest.raises(ValueError, match=rf"--sequence_length={DEMO_SEQ + 1} exceeds the preset's {DEMO_SEQ}"):
        finetune(directory, str(data), str(data), str(data), epochs=1, sequence_length=DEMO_SEQ + 1, verbose=0)
    results = finetune(directory, str(data), str(data), str(data), epochs=1, sequence_length=DEMO_SEQ,
                       verbose=0)
    assert results["num_classes"] == 2 and results["test"]["examples"] == 4


# === An export that cannot be written ===
def _listing(directory):
    return {os.path.relpath(os.path.join(root, name), directory): open(os.path.join(root, name), "rb").read()
            for root, _, files in os.walk(directory) for name in files}


@pytest.mark.parametrize("format", ["keras_hub", "transformers"])
def test_export_without_space_leaves_nothing_that_looks_complete(pretrained, tmp_path, monkeypatch, format):
    """Simulated (runs everywhere): the weights file fails half-written, as
    h5py (keras-hub) and safetensors report a full disk."""
    from safetensors import SafetensorError

    from official_tokendrop.interop import transformers

    def keras_hub_out_of_space(self, directory):
        with open(os.path.join(directory, "model.weights.h5"), "wb") as f:
            f.write(b"\0" * 100)
        raise OSError(28, "Unable to synchronously write data (file write failed: ..., errno = 28, "
                          "error message = 'No space left on device')")

    def transformers_out_of_space(weights, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"\0" * 100)
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    if format == "keras_hub":
        monkeypatch.setattr(keras_hub.models.BertMaskedLM, "save_to_preset", keras_hub_out_of_space)
    else:
        monkeypatch.setattr(transformers, "save_file", transformers_out_of_space)
    model_dir, _ = pretrained
    output = str(tmp_path / "out")
    what = "keras-hub preset" if format == "keras_hub" else "transformers export"
    with pytest.raises(OutputWriteError) as raised:
        export(model_dir, output, format=format)
    assert str(raised.value) == (f"could not write {what} {output}: No space left on device; "
                                 f"nothing was left at {output}")
    assert os.listdir(tmp_path) == []
    # Overwriting an earlier export: it stays as it was until the new one is whole.
    os.makedirs(output)
    (tmp_path / "out" / "config.json").write_text("{}")
    with pytest.raises(OutputWriteError, match=rf"^could not write {what} {output}: No space left on device; "
                                      rf"{output} was left as it was$"):
        export(model_dir, output, format=format, overwrite=True)
    assert os.listdir(tmp_path) == ["out"] and _listing(output) == {"config.json": b"{}"}


def test_export_on_a_full_disk(pretrained, small_disk):
    """A real full disk (a 256 KiB tmpfs: less than the weights)."""
    disk = small_disk.mount("256k")
    model_dir, _ = pretrained
    for format, what in (("keras_hub", "keras-hub preset"), ("transformers", "transformers export")):
        output = str(disk / format)
        with pytest.raises(OutputWriteError) as raised:
            export(model_dir, output, format=format)
        assert str(raised.value) == (f"could not write {what} {output}: No space left on device; "
                                     f"nothing was left at {output}")
        assert os.listdir(disk) == []
