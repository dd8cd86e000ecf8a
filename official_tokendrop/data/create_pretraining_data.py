"""Converts raw text into Model Garden BERT pretraining TFRecords.

    python -m official_tokendrop.data.create_pretraining_data \
        --input_files=corpus/*.txt --vocab_file=vocab.txt --output_dir=out \
        --seq_length=128 --max_predictions_per_seq=20 --pack_sequences

Input: one sentence per line, documents separated by blank lines (Model
Garden's format). Tokenization (keras-hub's `BertTokenizer`, i.e.
tensorflow-text WordPiece, normalising text as the vocabulary says:
`Vocabulary.tokenizer`) and masking (`masking.mask_tokens`) run as
batched TensorFlow graphs; Python only touches whole sentences.

Output: `output_dir/pretrain-SSSSS-of-NNNNN.tfrecord` plus
`dataset_config.json` (the settings, to refuse mixing configurations and to
let a rerun finish an interrupted job). Each shard, and the settings until
every shard is there, is written under a temporary name (`.incomplete`) and
renamed when complete.
"""

import dataclasses
import hashlib
import json
import os
import sys
import time
from typing import Optional

import numpy as np
import tensorflow as tf
from absl import app, flags

from official_tokendrop.cli import one_line_errors
from official_tokendrop.data import documents as documents_lib
from official_tokendrop.data import features, masking, sequences
from official_tokendrop.data.file_patterns import expand_input_files
from official_tokendrop.data.vocabulary import load_vocabulary
from official_tokendrop.errors import ConfigurationError, DataError
from official_tokendrop.utils.outputs import writing
from official_tokendrop.utils.progress import Eta

CONFIG_FILE = "dataset_config.json"
# Settings recorded in CONFIG_FILE since a later version, with the value
# every conversion before had: an older directory still matches them.
_RECORDED_LATER = {"strip_accents": False}
_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class ConversionOptions:
    seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    dupe_factor: int = 1
    random_seed: int = 12345
    num_shards: int = 1
    # None: as the vocabulary says (`Vocabulary.lowercase`); True or False
    # replaces that, for a vocab.txt that records nothing.
    do_lower_case: Optional[bool] = None
    do_whole_word_mask: bool = False
    next_sentence: bool = False
    pack_sequences: bool = True
    use_v2_feature_names: bool = True
    dynamic_masking: bool = False

    def validate(self):
        minimum = 5 if self.next_sentence else 3
        if self.seq_length < minimum:
            raise ConfigurationError(
                f"seq_length={self.seq_length} leaves no room for text: "
                f"[CLS] and [SEP] tokens need {minimum - 1} positions plus at "
                "least one token per segment."
            )
        if self.max_predictions_per_seq < 1 and not self.dynamic_masking:
            raise ConfigurationError(
                f"max_predictions_per_seq must be >= 1, got "
                f"{self.max_predictions_per_seq}."
            )
        if self.max_predictions_per_seq > self.seq_length:
            raise ConfigurationError("max_predictions_per_seq exceeds seq_length.")
        if self.dupe_factor < 1 or self.num_shards < 1:
            raise ConfigurationError("dupe_factor and num_shards must be >= 1.")
        if self.next_sentence and self.pack_sequences:
            raise ConfigurationError(
                "pack_sequences and next_sentence exclude each other: packed "
                "sequences have no sentence pairs."
            )


UNK_WARNING = 0.01  # a vocabulary learned from similar text leaves far fewer [UNK]s


def shard_name(index, num_shards):
    return f"pretrain-{index:05d}-of-{num_shards:05d}.tfrecord"


class _Progress:
    def __init__(self, every=2.0):
        self.start = self.last = time.time()
        self.every = every

    def elapsed(self):
        return time.time() - self.start

    def __call__(self, message, force=False, eta=None):
        now = time.time()
        if force or now - self.last >= self.every:
            self.last = now
            if eta is not None:
                message = f"{message} | {eta.describe()}"
            print(f"[{now - self.start:7.1f}s] {message}", file=sys.stderr, flush=True)


def _input_record(files):
    """Name, size and content hash of each input: a rerun over other text
    with the same settings must not reuse the old shards."""
    record = []
    for path in files:
        digest = hashlib.sha256()
        with tf.io.gfile.GFile(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        record.append({"name": os.path.basename(path), "bytes": tf.io.gfile.stat(path).length,
                       "sha256": digest.hexdigest()})
    return record


def _describe_inputs(record):
    if not record:
        return "not recorded"
    return ", ".join(f"{r['name']} ({r['bytes']:,} bytes, sha256 {r['sha256'][:12]})" for r in record)


def _check_output_dir(output_dir, expected):
    """Creates output_dir or checks that what it holds has our settings;
    returns the settings file, which is `CONFIG_FILE` only once every shard
    is written (until then it carries `.incomplete`, as the shards do)."""
    with writing("output directory", output_dir):
        tf.io.gfile.makedirs(output_dir)
    finished = os.path.join(output_dir, CONFIG_FILE)
    for path in (finished, finished + ".incomplete"):
        if not tf.io.gfile.exists(path):
            continue
        with tf.io.gfile.GFile(path) as f:
            found = json.load(f)
        found = {**_RECORDED_LATER, **found}
        differ = sorted(k for k in expected if found.get(k) != expected[k])
        if differ:
            details = ", ".join(
                f"input files: {_describe_inputs(found.get(k))} != {_describe_inputs(expected[k])}"
                if k == "inputs" else f"{k}: {found.get(k)!r} != {expected[k]!r}"
                for k in differ
            )
            raise DataError(
                f"{output_dir} holds shards of a different configuration "
                f"({details}); use an empty directory."
            )
        return path
    stray = tf.io.gfile.glob(os.path.join(output_dir, "*.tfrecord*"))
    if stray:
        raise DataError(
            f"{output_dir} holds TFRecords ({os.path.basename(stray[0])}, ...) "
            f"without {CONFIG_FILE}; use an empty directory."
        )
    path = finished + ".incomplete"
    with writing("dataset settings", path, lambda: _discard(path)):
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump(expected, f, indent=2, sort_keys=True)
    return path


def _tokenize(documents, vocab, progress):
    """Tokenizes every sentence in batched graphs; returns id arrays."""
    tokenizer = vocab.tokenizer()
    # A dataset map tokenizes batches on every core, in order.
    flat_sentences = tf.constant([s for d in documents for s in d])
    batches = (
        tf.data.Dataset.from_tensor_slices(flat_sentences)
        .batch(_BATCH)
        .map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(2)
    )
    ids, tokens, done = [], 0, 0
    eta = Eta(len(flat_sentences))
    eta.update(0)
    for ragged in batches:
        flat = ragged.flat_values.numpy().astype(np.int32)
        ids.extend(np.split(flat, ragged.row_splits.numpy()[1:-1]))
        tokens += flat.size
        done += int(ragged.nrows())
        eta.update(done)
        progress(
            f"tokenized {done:,}/{len(flat_sentences):,} sentences, {tokens:,} tokens "
            f"({tokens / progress.elapsed():,.0f} tokens/s)",
            eta=eta,
        )
    tokenized, offset = [], 0
    for document in documents:
        sentences = [s for s in ids[offset : offset + len(document)] if s.size]
        offset += len(document)
        if sentences:
            tokenized.append(sentences)
    return tokenized, tokens


def _build_sequences(documents, vocab, options, rng):
    cls_id, sep_id = vocab.id("[CLS]"), vocab.id("[SEP]")
    seqs, first_lengths, labels = [], [], []
    for dupe in range(options.dupe_factor):
        order = rng.permutation(len(documents))
        shuffled = [documents[i] for i in order]
        if options.next_sentence:
            pairs = sequences.sentence_pairs(shuffled, options.seq_length, cls_id, sep_id, rng)
            seqs += pairs[0]
            first_lengths += pairs[1]
            labels += pairs[2]
        else:
            seqs += sequences.pack_sentences(
                shuffled, options.seq_length, cls_id, sep_id, options.pack_sequences
            )
    token_ids, mask, segment_ids = sequences.pad(
        seqs, options.seq_length, first_lengths if options.next_sentence else None
    )
    arrays = {"input_word_ids": token_ids, "input_mask": mask, "input_type_ids": segment_ids}
    if options.next_sentence:
        arrays[features.NEXT_SENTENCE] = np.array(labels, np.int32)[:, None]
    order = rng.permutation(len(token_ids))
    return {k: v[order] for k, v in arrays.items()}


def _mask(arrays, config, options, progress):
    sequence = tf.TensorSpec([None, options.seq_length], tf.int32)
    mask_fn = tf.function(
        lambda ids, m, seed: masking.mask_tokens(ids, m, seed, config),
        input_signature=[sequence, sequence, tf.TensorSpec([2], tf.int64)],
        autograph=False,
    )
    parts = []
    total = len(arrays["input_word_ids"])
    eta = Eta(total)
    eta.update(0)
    for index, start in enumerate(range(0, total, _BATCH)):
        end = start + _BATCH
        out = mask_fn(
            arrays["input_word_ids"][start:end],
            arrays["input_mask"][start:end],
            tf.constant([options.random_seed, index], tf.int64),
        )
        parts.append({k: v.numpy() for k, v in out.items()})
        eta.update(min(end, total))
        progress(f"masked {min(end, total):,}/{total:,} sequences", eta=eta)
    masked = dict(arrays)
    for key in parts[0] if parts else ():
        masked[key] = np.concatenate([p[key] for p in parts])
    return masked


def _write_shards(arrays, output_dir, options, progress):
    names, written = [], 0
    total = len(arrays["input_word_ids"])
    eta = Eta(total)
    eta.update(0)
    # After a failed shard the finished ones and the `.incomplete` settings stay.
    kept = "; the finished shards are kept and a rerun with the same arguments writes the rest"
    for index in range(options.num_shards):
        name = shard_name(index, options.num_shards)
        names.append(name)
        path = os.path.join(output_dir, name)
        if tf.io.gfile.exists(path):
            progress(f"{name} already complete, kept", force=True)
            continue
        rows = {k: v[index :: options.num_shards] for k, v in arrays.items()}
        tmp = path + ".incomplete"
        with writing("TFRecord shard", path, lambda: _discard(tmp, kept)):
            with tf.io.TFRecordWriter(tmp) as writer:
                for start in range(0, len(rows["input_word_ids"]), _BATCH):
                    batch = {k: v[start : start + _BATCH] for k, v in rows.items()}
                    for record in features.serialize_examples(batch, options.use_v2_feature_names):
                        writer.write(record)
                    written += len(batch["input_word_ids"])
                    eta.update(written)
                    progress(
                        f"wrote {written:,}/{total:,} sequences "
                        f"({written / progress.elapsed():,.0f} sequences/s overall)",
                        eta=eta,
                    )
            tf.io.gfile.rename(tmp, path, overwrite=True)
    return names


def _discard(path, note=""):
    """After a failed write: removes the partly written `path`; returns `note`."""
    if tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)
    return note


def convert(input_files, vocab_file, output_dir, options=ConversionOptions()):
    """Runs the conversion; returns a summary dict (also printed by main)."""
    options.validate()
    vocab = load_vocabulary(vocab_file, options.do_lower_case)
    # Checked (masked_lm_prob) before the output directory is claimed: a
    # refused setting must not leave settings that block the corrected rerun.
    masking_config = None if options.dynamic_masking else masking.MaskingConfig.from_vocabulary(
        vocab, options.max_predictions_per_seq, options.masked_lm_prob, options.do_whole_word_mask
    )
    files = expand_input_files(input_files)
    expected = dict(dataclasses.asdict(options), do_lower_case=vocab.lowercase, strip_accents=vocab.strip_accents,
                    vocab_sha256=vocab.sha256, inputs=_input_record(files))

    progress = _Progress()
    documents, report = documents_lib.read_documents(files)
    progress(f"read {report.summary()}", force=True)
    # Only input that reads as text claims the output directory: a refused
    # input leaves no dataset_config.json that would block the next try.
    settings = _check_output_dir(output_dir, expected)
    tokenized, num_tokens = _tokenize(documents, vocab, progress)
    if not tokenized:
        raise DataError(f"{files} yield no tokens.")
    unknown = sum(int(np.sum(sentence == vocab.id("[UNK]"))) for d in tokenized for sentence in d)
    unk_fraction = unknown / max(num_tokens, 1)
    progress(f"tokenized {num_tokens:,} tokens, {unk_fraction:.2%} [UNK]", force=True)
    if unk_fraction > UNK_WARNING:
        progress(f"WARNING: {unk_fraction:.1%} of the tokens are [UNK]: {vocab_file} does not fit "
                 "this text (another language, casing or normalisation?)", force=True)
    rng = np.random.default_rng(options.random_seed)
    arrays = _build_sequences(tokenized, vocab, options, rng)
    if not options.dynamic_masking:
        arrays = _mask(arrays, masking_config, options, progress)
    shards = _write_shards(arrays, output_dir, options, progress)
    finished = os.path.join(output_dir, CONFIG_FILE)
    if settings != finished:  # only now does the directory say it is complete
        tf.io.gfile.rename(settings, finished, overwrite=True)

    num_sequences = len(arrays["input_word_ids"])
    real = int(arrays["input_mask"].sum())
    seconds = progress.elapsed()
    summary = {
        "unk_fraction": unk_fraction,
        "documents": report.documents,
        "sentences": report.sentences,
        "tokens": num_tokens,
        "sequences": num_sequences,
        "real_token_fraction": real / max(1, num_sequences * options.seq_length),
        "predictions": int(arrays["masked_lm_weights"].sum()) if "masked_lm_weights" in arrays else 0,
        "skipped_undecodable_lines": [f"{f}:{n}" for f, n in report.undecodable],
        "shards": shards,
        "seconds": seconds,
        "sequences_per_second": num_sequences / max(seconds, 1e-9),
    }
    return summary


FLAGS = flags.FLAGS


def define_flags():
    defaults = ConversionOptions()
    flags.DEFINE_list("input_files", None, "Text files or globs, comma-separated.")
    flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt, transformers tokenizer.json, or a model "
                        "directory holding one.")
    flags.DEFINE_string("output_dir", None, "Directory for the TFRecord shards.")
    flags.DEFINE_integer("seq_length", defaults.seq_length, "Tokens per sequence.")
    flags.DEFINE_integer("max_predictions_per_seq", defaults.max_predictions_per_seq, "Masked-LM slots per sequence.")
    flags.DEFINE_float("masked_lm_prob", defaults.masked_lm_prob, "Fraction of tokens to predict.")
    flags.DEFINE_integer("dupe_factor", defaults.dupe_factor, "Copies of the data, each masked anew.")
    flags.DEFINE_integer("random_seed", defaults.random_seed, "Seed: same seed, same output.")
    flags.DEFINE_integer("num_shards", defaults.num_shards, "Output files.")
    flags.DEFINE_bool("do_lower_case", defaults.do_lower_case, "Lower-case (uncased vocabulary); default: as "
                      "the vocabulary records (lower-case where it records nothing).")
    flags.DEFINE_bool("do_whole_word_mask", defaults.do_whole_word_mask, "Mask whole words.")
    flags.DEFINE_bool("next_sentence", defaults.next_sentence, "Sentence pairs with next-sentence labels.")
    flags.DEFINE_bool("pack_sequences", defaults.pack_sequences, "Pack sentences across documents.")
    flags.DEFINE_bool("use_v2_feature_names", defaults.use_v2_feature_names, "input_word_ids/input_type_ids names.")
    flags.DEFINE_bool("dynamic_masking", defaults.dynamic_masking, "Write unmasked sequences; mask at read time.")
    flags.mark_flags_as_required(["input_files", "vocab_file", "output_dir"])


@one_line_errors("create_pretraining_data")
def main(argv):
    del argv
    options = ConversionOptions(
        **{f.name: FLAGS[f.name].value for f in dataclasses.fields(ConversionOptions)}
    )
    summary = convert(FLAGS.input_files, FLAGS.vocab_file, FLAGS.output_dir, options)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(lambda argv: sys.exit(main(argv)))
