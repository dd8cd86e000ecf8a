"""One fine-tuning head on a pretrained BERT: build, compile, batch, predict.

keras-hub's `BertTextClassifier` for classes, our `BertTextRegressor` for
scores, both over a fresh copy of the pretrained backbone (so several
fine-tunes in one process each start from the pretrained weights) and
keras-hub's `BertTextClassifierPreprocessor`, trained with `model.fit`:
AdamW (weight decay 0.01, none on biases and layer norms, as BERT's
fine-tuning and Model Garden's `sentence_prediction` do), linear warm-up
over `warmup_fraction` of the steps and linear decay to 0.
"""

import math

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from official_tokendrop.core.optimization import PolynomialWarmup
from official_tokendrop.errors import ConfigurationError
from official_tokendrop.models.bert_text_regressor import BertTextRegressor

SEQUENCE_LENGTH = 128  # tokens per example of a classification or regression task
WEIGHT_DECAY = 0.01
NO_DECAY = ("bias", "gamma", "beta")  # Keras' short names of biases and layer-norm scales


def training_steps(examples, batch_size, epochs):
    return epochs * math.ceil(examples / batch_size)


def check_settings(*, learning_rate, **counts):
    """The learning rate is positive and every count (epochs, batch size,
    sequence length, ...) a positive integer; one line otherwise."""
    if not learning_rate > 0:
        raise ConfigurationError(f"learning_rate={learning_rate} must be positive.")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigurationError(f"{name}={value!r} must be a positive integer.")


def adamw(learning_rate, steps, warmup_fraction=0.1):
    """AdamW with BERT's fine-tuning schedule: linear warm-up to
    `learning_rate` over `warmup_fraction` of `steps`, linear decay to 0."""
    schedule = PolynomialWarmup(keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, 0.0),
                                max(1, int(warmup_fraction * steps)))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=WEIGHT_DECAY)
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer


def build_model(pretrained, num_classes, sequence_length, learning_rate, steps, warmup_fraction=0.1):
    """A compiled head of `num_classes` classes (None: a regression head)
    on a copy of `pretrained`'s backbone, taking raw text (one or two
    columns) truncated to `sequence_length` tokens."""
    backbone = pretrained.fresh_backbone()
    preprocessor = pretrained.preprocessor(sequence_length)
    optimizer = adamw(learning_rate, steps, warmup_fraction)
    if num_classes is None:
        model = BertTextRegressor(backbone, preprocessor=preprocessor)
        model.compile(optimizer=optimizer)
    else:
        model = keras_hub.models.BertTextClassifier(backbone, num_classes, preprocessor=preprocessor)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def dataset(columns, targets=None, batch_size=32, shuffle_seed=None):
    """Batches of `columns` (a tuple of one or two sequences of strings),
    with `targets` when given, shuffled each epoch when `shuffle_seed` is."""
    features = tuple(np.asarray(column, dtype=object) for column in columns)
    # Keras reads a 2-tuple as (x, y): without targets the features are
    # wrapped as (x,), or a pair's second text would be taken for a label.
    data = tf.data.Dataset.from_tensor_slices((features,) if targets is None else (features, targets))
    if shuffle_seed is not None:
        data = data.shuffle(len(features[0]), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size)


def predict(model, columns, batch_size=32):
    """Class ids (a classifier) or scores (a regressor) of `columns`."""
    outputs = model.predict(dataset(columns, batch_size=batch_size), verbose=0)
    return outputs[:, 0] if isinstance(model, BertTextRegressor) else np.argmax(outputs, axis=-1)
