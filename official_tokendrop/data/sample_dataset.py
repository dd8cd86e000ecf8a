"""The demo's data: sample corpus -> vocabulary -> train/validation TFRecords.

Every step is skipped when its output is already there, so a rerun (or a
resumed training run) reuses the data of the first.
"""

import dataclasses
import os

import tensorflow as tf

from official_tokendrop.data import create_pretraining_data as cpd
from official_tokendrop.data.sample_corpus import write_sample_corpus
from official_tokendrop.data.vocabulary import build_vocabulary, load_vocabulary


@dataclasses.dataclass(frozen=True)
class SampleDataset:
    train_pattern: str
    validation_pattern: str
    vocab_file: str


def prepare_sample_dataset(directory, seq_length, max_predictions_per_seq, vocab_size,
                           max_bytes=1_000_000, validation_every=20):
    """Builds (or reuses) the sample data under `directory`."""
    tf.io.gfile.makedirs(directory)
    corpus = os.path.join(directory, "sample_corpus.txt")
    if not tf.io.gfile.exists(corpus):
        write_sample_corpus(corpus + ".tmp", max_bytes=max_bytes)
        tf.io.gfile.rename(corpus + ".tmp", corpus, overwrite=True)
    with open(corpus, encoding="utf-8") as f:
        documents = [d for d in f.read().split("\n\n") if d.strip()]
    splits = {
        "train": [d for i, d in enumerate(documents) if i % validation_every],
        "validation": [d for i, d in enumerate(documents) if not i % validation_every],
    }
    texts = {}
    for name, docs in splits.items():
        texts[name] = os.path.join(directory, f"{name}.txt")
        if not tf.io.gfile.exists(texts[name]):
            with open(texts[name], "w", encoding="utf-8") as f:
                f.write("\n\n".join(docs) + "\n")

    vocab_file = os.path.join(directory, "vocab.txt")
    if tf.io.gfile.exists(vocab_file):
        load_vocabulary(vocab_file)
    else:
        build_vocabulary([texts["train"]], vocab_size, vocab_file, max_lines=40000)

    options = cpd.ConversionOptions(
        seq_length=seq_length, max_predictions_per_seq=max_predictions_per_seq, num_shards=2
    )
    patterns = {}
    for name, text in texts.items():
        output = os.path.join(directory, name)
        cpd.convert([text], vocab_file, output, options)
        patterns[name] = os.path.join(output, "*.tfrecord")
    return SampleDataset(patterns["train"], patterns["validation"], vocab_file)
