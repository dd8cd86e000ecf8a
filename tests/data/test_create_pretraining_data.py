"""The converter, the reader, and both directions of Model Garden compatibility."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from official_tokendrop.data import create_pretraining_data as cpd
from official_tokendrop.data.masking import MaskingConfig
from official_tokendrop.data.pretrain_dataloader import pretrain_dataset
from official_tokendrop.errors import OutputWriteError

SEQ, PRED = 64, 10
OPTIONS = cpd.ConversionOptions(seq_length=SEQ, max_predictions_per_seq=PRED, num_shards=2, dupe_factor=2)


def _read_all(path, options=OPTIONS, global_batch_size=16, **kwargs):
    dataset = pretrain_dataset(
        os.path.join(path, "*.tfrecord"),
        global_batch_size=global_batch_size,
        seq_length=options.seq_length,
        max_predictions_per_seq=options.max_predictions_per_seq,
        is_training=False,
        use_v2_feature_names=options.use_v2_feature_names,
        use_next_sentence_label=options.next_sentence,
        **kwargs,
    )
    batches = list(dataset.as_numpy_iterator())
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


@pytest.fixture(scope="module")
def packed(sample_text, sample_vocab, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("packed"))
    summary = cpd.convert([sample_text], sample_vocab.path, out, OPTIONS)
    return out, summary, _read_all(out)


def test_packed_sequences_are_well_formed(packed, sample_vocab):
    _, summary, data = packed
    ids, mask = data["input_word_ids"], data["input_mask"]
    n = len(ids)
    assert n == summary["sequences"] // 16 * 16 and n > 100
    assert summary["shards"] == [cpd.shard_name(i, 2) for i in range(2)]
    lengths = mask.sum(1)
    # Masks are a prefix of ones; [CLS] first; [SEP] last; one segment.
    np.testing.assert_array_equal(mask, np.arange(SEQ)[None] < lengths[:, None])
    assert (ids[:, 0] == sample_vocab.id("[CLS]")).all()
    labels_at_end = ids[np.arange(n), lengths - 1]
    assert (labels_at_end == sample_vocab.id("[SEP]")).all()
    assert (data["input_type_ids"] == 0).all()
    assert (ids[mask == 0] == 0).all()
    # Packing fills sequences: most positions hold real tokens.
    assert summary["real_token_fraction"] > 0.75  # whole sentences, 64 tokens
    assert mask.mean() == pytest.approx(summary["real_token_fraction"], abs=0.02)


def test_masked_lm_features_point_at_real_tokens(packed, sample_vocab):
    _, _, data = packed
    pos, w = data["masked_lm_positions"], data["masked_lm_weights"]
    assert set(np.unique(w)) <= {0.0, 1.0} and w.sum() > 0
    specials = list(sample_vocab.special_ids)
    for b in range(len(pos)):
        real = pos[b][w[b] > 0]
        assert np.all(np.diff(real) > 0) and data["input_mask"][b, real].all()
        assert not np.isin(data["masked_lm_ids"][b][w[b] > 0], specials).any()


def test_same_seed_gives_identical_files(packed, sample_text, sample_vocab, tmp_path):
    out, _, _ = packed
    cpd.convert([sample_text], sample_vocab.path, str(tmp_path), OPTIONS)
    for name in (cpd.shard_name(i, 2) for i in range(2)):
        with open(os.path.join(out, name), "rb") as a, open(tmp_path / name, "rb") as b:
            assert a.read() == b.read()


def test_interrupted_conversion_is_completed_by_rerun(packed, sample_text, sample_vocab, tmp_path):
    out, _, _ = packed
    cpd.convert([sample_text], sample_vocab.path, str(tmp_path), OPTIONS)
    last = tmp_path / cpd.shard_name(1, 2)
    os.remove(last)
    (tmp_path / (cpd.shard_name(1, 2) + ".incomplete")).write_bytes(b"truncated")
    cpd.convert([sample_text], sample_vocab.path, str(tmp_path), OPTIONS)
    with open(os.path.join(out, last.name), "rb") as f:
        assert last.read_bytes() == f.read()
    assert not (tmp_path / (cpd.shard_name(1, 2) + ".incomplete")).exists()


def test_next_sentence_pairs(sample_text, sample_vocab, tmp_path):
    options = dataclasses.replace(OPTIONS, next_sentence=True, pack_sequences=False, num_shards=1)
    cpd.convert([sample_text], sample_vocab.path, str(tmp_path), options)
    data = _read_all(str(tmp_path), options)
    labels = data["next_sentence_labels"][:, 0]
    assert 0.3 < labels.mean() < 0.7
    sep = sample_vocab.id("[SEP]")
    for ids, types, mask in zip(data["input_word_ids"], data["input_type_ids"], data["input_mask"]):
        n = mask.sum()
        a_len = (types[:n] == 0).sum()
        # [CLS] A [SEP] | B [SEP]: segment 0 then 1, [SEP] closing each.
        np.testing.assert_array_equal(types[:n], np.r_[np.zeros(a_len), np.ones(n - a_len)])
        assert 3 <= a_len < n and ids[a_len - 1] == sep and ids[n - 1] == sep
        assert (types[n:] == 0).all()


def test_dynamic_masking_at_read_time(sample_text, sample_vocab, tmp_path):
    options = dataclasses.replace(OPTIONS, dynamic_masking=True, num_shards=1)
    summary = cpd.convert([sample_text], sample_vocab.path, str(tmp_path), options)
    assert summary["predictions"] == 0
    config = MaskingConfig.from_vocabulary(sample_vocab, PRED, 0.15)
    first = _read_all(str(tmp_path), options, dynamic_masking=config, seed=1)
    again = _read_all(str(tmp_path), options, dynamic_masking=config, seed=1)
    other = _read_all(str(tmp_path), options, dynamic_masking=config, seed=2)
    np.testing.assert_array_equal(first["masked_lm_positions"], again["masked_lm_positions"])
    assert not np.array_equal(first["masked_lm_positions"], other["masked_lm_positions"])
    eligible = (first["input_mask"] == 1) & ~np.isin(
        first["input_word_ids"], sample_vocab.special_ids
    )
    # Masking replaced the ids, so count eligibility on unmasked positions + predictions.
    assert first["masked_lm_weights"].sum() / (eligible.sum() + 0.8 * first["masked_lm_weights"].sum()) == pytest.approx(0.15, abs=0.01)


def test_reader_shards_files_over_input_pipelines(packed):
    out, _, _ = packed
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(2, pipeline, num_replicas_in_sync=2)
        dataset = pretrain_dataset(
            os.path.join(out, "*.tfrecord"), 16, SEQ, PRED, is_training=False, input_context=context
        )
        batch = next(iter(dataset))
        assert batch["input_word_ids"].shape == (8, SEQ)  # per-replica batch
        seen.append({tuple(r) for r in dataset.unbatch().map(lambda x: x["input_word_ids"]).as_numpy_iterator()})
    assert not seen[0] & seen[1]
    training = pretrain_dataset(os.path.join(out, "*.tfrecord"), 16, SEQ, PRED, seed=0)
    for batch in training.take(3):
        assert batch["masked_lm_weights"].shape == (16, PRED)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(seq_length=SEQ * 2), "expects 128"),
        (dict(max_predictions_per_seq=PRED + 1), "expects 11"),
        (dict(use_v2_feature_names=False), "lacks features"),
        (dict(use_next_sentence_label=True), "next_sentence_labels"),
    ],
)
def test_reader_rejects_files_that_disagree_with_config(packed, kwargs, message):
    out, _, _ = packed
    args = dict(seq_length=SEQ, max_predictions_per_seq=PRED)
    with pytest.raises(ValueError, match=message):
        pretrain_dataset(os.path.join(out, "*.tfrecord"), 4, **{**args, **kwargs})
    with pytest.raises(FileNotFoundError, match="matches no file"):
        pretrain_dataset(os.path.join(out, "*.nothing"), 4, SEQ, PRED)


def test_ours_load_through_model_garden_loader(packed):
    from official.nlp.data import pretrain_dataloader as mg

    out, summary, _ = packed
    data = _read_all(out, global_batch_size=1)
    assert len(data["input_word_ids"]) == summary["sequences"]
    config = mg.BertPretrainDataConfig(
        input_path=os.path.join(out, "*.tfrecord"),
        global_batch_size=1,
        is_training=False,
        seq_length=SEQ,
        max_predictions_per_seq=PRED,
        use_next_sentence_label=False,
        use_v2_feature_names=True,
    )
    batches = list(mg.BertPretrainDataLoader(config).load().as_numpy_iterator())
    theirs = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    assert set(theirs) == set(data)
    # Same examples; the two readers interleave the shards differently.
    def rows(d):
        return sorted(
            tuple(np.concatenate([d[k][i].ravel() for k in sorted(d)]).tolist())
            for i in range(len(d["input_word_ids"]))
        )

    assert rows(theirs) == rows(data)


@pytest.mark.slow
def test_model_garden_files_train_our_pretrainer(sample_text, sample_vocab, tmp_path):
    import keras

    from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder

    text = tmp_path / "small.txt"
    with open(sample_text) as f:
        text.write_text("".join(f.readlines()[:600]))
    record = tmp_path / "mg.tfrecord"
    subprocess.run(
        [
            sys.executable, "-m", "official.nlp.data.create_pretraining_data",
            f"--input_file={text}", f"--output_file={record}",
            f"--vocab_file={sample_vocab.path}", f"--max_seq_length={SEQ}",
            f"--max_predictions_per_seq={PRED}", "--dupe_factor=1",
        ],
        check=True, capture_output=True,
    )
    dataset = pretrain_dataset(
        str(record), 8, SEQ, PRED, use_v2_feature_names=False, use_next_sentence_label=True, seed=0
    )
    batch = next(iter(dataset))
    assert set(batch) >= {"input_word_ids", "input_type_ids", "next_sentence_labels"}
    assert (batch["input_type_ids"].numpy() == 1).any()
    keras.utils.set_random_seed(0)
    vocab = sample_vocab
    encoder = TokenDropBertEncoder(
        vocab_size=len(vocab), hidden_size=16, num_layers=3, num_attention_heads=2,
        inner_dim=32, max_sequence_length=SEQ, token_keep_k=SEQ // 2,
        token_allow_list=vocab.token_allow_list, token_deny_list=vocab.token_deny_list,
    )
    model = BertPretrainer(encoder, next_sentence=True)
    model.compile(optimizer="adam", jit_compile=True)
    history = model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert (encoder.token_importance.table.numpy()[5:] != 10.0).any()


def test_bad_inputs_give_clear_errors(sample_text, sample_vocab, tmp_path):
    out = str(tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="matches no file"):
        cpd.convert([str(tmp_path / "missing.txt")], sample_vocab.path, out, OPTIONS)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="holds no text"):
        cpd.convert([str(empty)], sample_vocab.path, out, OPTIONS)
    bad_vocab = tmp_path / "vocab.txt"
    bad_vocab.write_text("[PAD]\n[UNK]\nhello\n")
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[CLS\]', '\[SEP\]', '\[MASK\]'\]"):
        cpd.convert([sample_text], str(bad_vocab), out, OPTIONS)
    with pytest.raises(ValueError, match="seq_length=2"):
        cpd.convert([sample_text], sample_vocab.path, out, dataclasses.replace(OPTIONS, seq_length=2))
    with pytest.raises(ValueError, match="max_predictions_per_seq must be >= 1"):
        cpd.convert([sample_text], sample_vocab.path, out, dataclasses.replace(OPTIONS, max_predictions_per_seq=0))


def test_other_configuration_in_output_dir_is_refused(packed, sample_text, sample_vocab):
    out, _, _ = packed
    with pytest.raises(ValueError, match=r"different configuration \(masked_lm_prob: 0.15 != 0.2\)"):
        cpd.convert([sample_text], sample_vocab.path, out, dataclasses.replace(OPTIONS, masked_lm_prob=0.2))


def test_undecodable_lines_are_skipped_and_reported(sample_vocab, tmp_path):
    text = tmp_path / "mixed.txt"
    text.write_bytes(b"The first line is fine.\nBad \xff\xfe bytes here.\nThe third line is fine too.\n")
    summary = cpd.convert([str(text)], sample_vocab.path, str(tmp_path / "o"), dataclasses.replace(OPTIONS, num_shards=1))
    assert summary["skipped_undecodable_lines"] == ["mixed.txt:2"]
    assert summary["sentences"] == 2


def test_command_line_error_is_one_line(tmp_path, sample_vocab, capsys):
    from conftest import run_program

    status = run_program("official_tokendrop.data.create_pretraining_data", f"--input_files={tmp_path}/none*.txt",
                         f"--vocab_file={sample_vocab.path}", f"--output_dir={tmp_path}/out")
    err = capsys.readouterr().err
    assert status == 1
    assert "error: Input" in err and "matches no file" in err
    assert "Traceback" not in err


def test_batched_serialization_equals_protobuf():
    from official_tokendrop.data import features

    rng = np.random.default_rng(0)
    arrays = {
        "input_word_ids": rng.integers(0, 30000, (3, 8)).astype(np.int32),
        "masked_lm_weights": rng.random((3, 2)).astype(np.float32),
        "next_sentence_labels": np.array([[0], [1], [1]], np.int32),
    }
    records = features.serialize_examples(arrays, use_v2_feature_names=False)
    for row, record in enumerate(records):
        feature = {
            "input_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=arrays["input_word_ids"][row])),
            "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(value=arrays["masked_lm_weights"][row])),
            "next_sentence_labels": tf.train.Feature(int64_list=tf.train.Int64List(value=arrays["next_sentence_labels"][row])),
        }
        expected = tf.train.Example(features=tf.train.Features(feature=feature))
        assert tf.train.Example.FromString(record) == expected


# === Shards that cannot be written ===
def test_shard_without_space_leaves_no_complete_looking_dataset(packed, sample_text, sample_vocab, tmp_path,
                                                                monkeypatch):
    """Simulated (runs everywhere): the second shard runs out of space
    after its first record. The directory does not say it is complete
    (no `dataset_config.json`), and a rerun finishes it."""
    writer = tf.io.TFRecordWriter

    class OutOfSpace:
        def __init__(self, path):
            self.path, self.records = path, writer(path)

        def __enter__(self):
            return self

        def __exit__(self, *error):
            self.records.close()

        def write(self, record):
            self.records.write(record)
            if cpd.shard_name(1, 2) in self.path:
                raise tf.errors.ResourceExhaustedError(None, None, f"{self.path}; No space left on device")

    monkeypatch.setattr(tf.io, "TFRecordWriter", OutOfSpace)
    with pytest.raises(OutputWriteError) as raised:
        cpd.convert([sample_text], sample_vocab.path, str(tmp_path), OPTIONS)
    assert str(raised.value) == (
        f"could not write TFRecord shard {tmp_path / cpd.shard_name(1, 2)}: No space left on device; "
        "the finished shards are kept and a rerun with the same arguments writes the rest")
    assert sorted(os.listdir(tmp_path)) == [cpd.CONFIG_FILE + ".incomplete", cpd.shard_name(0, 2)]
    monkeypatch.undo()
    cpd.convert([sample_text], sample_vocab.path, str(tmp_path), OPTIONS)
    out, _, _ = packed
    assert sorted(os.listdir(tmp_path)) == sorted(os.listdir(out))
    for name in os.listdir(out):
        with open(os.path.join(out, name), "rb") as f:
            assert (tmp_path / name).read_bytes() == f.read(), name


def test_shards_on_a_full_disk(sample_text, sample_vocab, small_disk):
    """A real full disk: a 128 KiB tmpfs holds the settings, not the shards."""
    disk = small_disk.mount("128k")
    with pytest.raises(OutputWriteError) as raised:
        cpd.convert([sample_text], sample_vocab.path, str(disk), OPTIONS)
    assert str(raised.value) == (
        f"could not write TFRecord shard {disk / cpd.shard_name(0, 2)}: No space left on device; "
        "the finished shards are kept and a rerun with the same arguments writes the rest")
    assert os.listdir(disk) == [cpd.CONFIG_FILE + ".incomplete"]
