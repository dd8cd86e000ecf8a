"""Fine-tunes an exported BERT preset on a TSV classification task.

    python -m official_tokendrop.finetune --preset=bert_preset \
        --train=train.tsv --validation=dev.tsv --test=test.tsv --output=results.json

Each TSV line is `label<TAB>text` (single sentence) or
`label<TAB>text<TAB>text_b` (sentence pair); CSV, quoting, headers and
encodings as `data.task_rows` reads them. Uses keras-hub's
`BertTextClassifier` and `model.fit` with linear warm-up and decay and
early stopping on validation accuracy; reports accuracy and macro-F1.
"""

import json
import os
import sys
import time

from official_tokendrop import cli  # noqa: E402,F401  (quiets TensorFlow before it loads)

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from official_tokendrop.cli import one_line_errors  # noqa: E402
from official_tokendrop.core.optimization import PolynomialWarmup  # noqa: E402
from official_tokendrop.data.task_rows import class_names, read_task_file  # noqa: E402
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError  # noqa: E402
from official_tokendrop.interop.init_checkpoint import TRANSFORMERS, read_source  # noqa: E402

# What keras-hub reads for fine-tuning: a keras-hub BERT preset (our
# export), or a transformers BERT directory (`--format=transformers`).
PRESET_FILES = ("config.json", "tokenizer.json", "model.weights.h5", "assets/tokenizer/vocabulary.txt")
TRANSFORMERS_FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json")


def label_ids(split, vocabulary):
    ids = []
    for index, label in enumerate(split.labels):
        if label not in vocabulary:
            raise DataError(
                f"{split.path}: example {index + 1} has label {label!r}, which the "
                f"training data never uses (known: {sorted(vocabulary)[:10]}...)."
            )
        ids.append(vocabulary[label])
    return np.array(ids, np.int32)


def macro_f1(truth, predicted, num_classes):
    scores = []
    for c in range(num_classes):
        tp = np.sum((predicted == c) & (truth == c))
        fp = np.sum((predicted == c) & (truth != c))
        fn = np.sum((predicted != c) & (truth == c))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def check_preset(preset):
    """`preset` holds the files keras-hub reads: a keras-hub preset's, or a
    transformers directory's; returns it as `read_source` reads it (which
    refuses an unreadable config.json, another model than BERT, and weights
    only in pytorch_model.bin, each in one line)."""
    if not os.path.isdir(preset):
        state = "is not a directory" if os.path.exists(preset) else "does not exist"
        raise MissingFileError(f"Preset {preset} {state}; export one with official_tokendrop.export.")
    if not os.path.isfile(os.path.join(preset, "config.json")):
        raise MissingFileError(f"Preset {preset} lacks config.json; export it with official_tokendrop.export.")
    source = read_source(preset)
    needed = TRANSFORMERS_FILES if source.format == TRANSFORMERS else PRESET_FILES
    missing = [f for f in needed if not os.path.exists(os.path.join(preset, f))]
    if missing:
        raise MissingFileError(f"Preset {preset} lacks {missing}; export it with official_tokendrop.export.")
    return source


def check_preset_fits(source, sequence_length):
    """The preset's vocabulary fits its embedding, and it has position
    embeddings for `sequence_length` tokens."""
    embedded, positions = source.architecture["vocab_size"], source.architecture["max_sequence_length"]
    with open(source.vocabulary, encoding="utf-8") as f:
        tokens = sum(1 for line in f if line.strip())
    if tokens > embedded:
        raise DataError(f"Preset {source.path}: its vocabulary has {tokens} tokens but the model embeds "
                        f"only {embedded}; the preset is inconsistent.")
    if sequence_length > positions:
        raise ConfigurationError(f"--sequence_length={sequence_length} exceeds the preset's "
                                 f"{positions} position embeddings ({source.path}).")


def read_splits(train, validation, test):
    """The three splits, the training labels in class-id order and each
    split's label ids; refuses mixed widths and a single training class."""
    splits = {name: read_task_file(path)
              for name, path in (("train", train), ("validation", validation), ("test", test))}
    widths = {name: bool(s.text_pairs) for name, s in splits.items()}
    if len(set(widths.values())) != 1:
        raise DataError(f"Splits mix single sentences and pairs: {widths}.")
    names = class_names(splits["train"].labels)
    if len(names) < 2:
        raise DataError(f"{train}: every training example has the label {names[0]!r}; "
                         "a classifier needs at least two classes.")
    vocabulary = {label: i for i, label in enumerate(names)}
    ids = {name: label_ids(s, vocabulary) for name, s in splits.items()}
    return splits, names, ids


def build_classifier(preset, num_classes, sequence_length, learning_rate, steps, warmup_fraction):
    """keras-hub's `BertTextClassifier` of `preset`, compiled with AdamW,
    linear warm-up over `warmup_fraction` of `steps` and linear decay."""
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
        preset, sequence_length=sequence_length
    )
    model = keras_hub.models.BertTextClassifier.from_preset(
        preset, num_classes=num_classes, preprocessor=preprocessor
    )
    schedule = PolynomialWarmup(
        keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, 0.0),
        max(1, int(warmup_fraction * steps)),
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def _dataset(split, ids, batch_size, shuffle=False, seed=0):
    features = (split.texts, split.text_pairs) if split.text_pairs else (split.texts,)
    data = tf.data.Dataset.from_tensor_slices((features, ids))
    if shuffle:
        data = data.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size)


def finetune(preset, train, validation, test, epochs=3, batch_size=32, learning_rate=5e-5,
             sequence_length=128, seed=0, patience=2, warmup_fraction=0.1, verbose=2):
    """Trains, early-stops on validation accuracy, scores the test split.

    `seed` orders the training data; the classifier head's initialisation
    and dropout follow Keras' global seed, which the program sets
    (`keras.utils.set_random_seed`, as `main` does).
    """
    source = check_preset(preset)
    splits, names, ids = read_splits(train, validation, test)
    check_preset_fits(source, sequence_length)

    steps = epochs * int(np.ceil(len(splits["train"]) / batch_size))
    model = build_classifier(preset, len(names), sequence_length, learning_rate, steps, warmup_fraction)

    def dataset(name, shuffle=False):
        return _dataset(splits[name], ids[name], batch_size, shuffle, seed)

    start = time.time()
    history = model.fit(
        dataset("train", shuffle=True),
        validation_data=dataset("validation"),
        epochs=epochs,
        callbacks=[keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True
        )],
        verbose=verbose,
    )
    results = {
        "preset": preset, "labels": names, "num_classes": len(names), "seed": seed,
        "train_examples": len(splits["train"]), "epochs_run": len(history.history["loss"]),
        "train_seconds": time.time() - start,
        "majority_baseline": float(np.mean(ids["test"] == np.bincount(ids["train"]).argmax())),
    }
    for name in ("validation", "test"):
        predicted = np.argmax(model.predict(dataset(name), verbose=0), axis=-1)
        results[name] = {
            "accuracy": float(np.mean(predicted == ids[name])),
            "macro_f1": macro_f1(ids[name], predicted, len(names)),
            "examples": len(splits[name]),
        }
    return results


FLAGS = flags.FLAGS


@one_line_errors("finetune")
def main(argv):
    del argv
    # The program's seed (classifier head, dropout), set once here.
    keras.utils.set_random_seed(FLAGS.seed)
    results = finetune(
        FLAGS.preset, FLAGS.train, FLAGS.validation, FLAGS.test, FLAGS.epochs,
        FLAGS.batch_size, FLAGS.learning_rate, FLAGS.sequence_length, FLAGS.seed,
    )
    text = json.dumps(results, indent=2)
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    flags.DEFINE_string("preset", None, "keras-hub BERT preset or transformers BERT directory.")
    flags.DEFINE_string("train", None, "Training TSV.")
    flags.DEFINE_string("validation", None, "Validation TSV (early stopping).")
    flags.DEFINE_string("test", None, "Test TSV.")
    flags.DEFINE_string("output", None, "Where to write the results JSON.")
    flags.DEFINE_integer("epochs", 3, "Maximum epochs.")
    flags.DEFINE_integer("batch_size", 32, "Batch size.")
    flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
    flags.DEFINE_integer("sequence_length", 128, "Tokens per example.")
    flags.DEFINE_integer("seed", 0, "Random seed.")
    flags.mark_flags_as_required(["preset", "train", "validation", "test"])
    app.run(lambda argv: sys.exit(main(argv)))
