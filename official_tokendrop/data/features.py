"""The Model Garden BERT pretraining `tf.train.Example` format.

v1 names are what Model Garden's `create_pretraining_data` writes; v2 names
(`use_v2_feature_names`) are the model's input names. In memory this
package always uses v2 names.
"""

import tensorflow as tf

V1_NAMES = {"input_word_ids": "input_ids", "input_type_ids": "segment_ids"}
SEQUENCE_FEATURES = ("input_word_ids", "input_mask", "input_type_ids")
MLM_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
NEXT_SENTENCE = "next_sentence_labels"


def file_name(name, use_v2_feature_names):
    return name if use_v2_feature_names else V1_NAMES.get(name, name)


def parse_spec(seq_length, max_predictions_per_seq, use_v2_feature_names, masked=True, next_sentence=False):
    """`{file feature name: FixedLenFeature}` for `tf.io.parse_example`."""
    spec = {
        file_name(n, use_v2_feature_names): tf.io.FixedLenFeature([seq_length], tf.int64)
        for n in SEQUENCE_FEATURES
    }
    if masked:
        for n in MLM_FEATURES[:2]:
            spec[n] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64)
        spec["masked_lm_weights"] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32)
    if next_sentence:
        spec[NEXT_SENTENCE] = tf.io.FixedLenFeature([1], tf.int64)
    return spec


def to_model_names(parsed, use_v2_feature_names):
    """Renames file features to model names and casts int64 to int32."""
    out = {}
    for name in SEQUENCE_FEATURES + MLM_FEATURES + (NEXT_SENTENCE,):
        key = file_name(name, use_v2_feature_names)
        if key in parsed:
            value = parsed[key]
            out[name] = tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
    return out


def _encode(message_type, fields, values, counts):
    """Batched `tf.io.encode_proto`: one serialized message per row."""
    return tf.io.encode_proto(tf.stack(counts, axis=1), values, fields, message_type)


@tf.function(reduce_retracing=True, autograph=False)
def _serialize_batch(named_values):
    """Serialized `tf.train.Example`s [N] from `{file name: [N, L] tensor}`.

    Byte-for-byte what `tf.train.Example.SerializeToString` writes (tested),
    built by TensorFlow's proto encoder instead of a Python loop per row.
    """
    rows = tf.shape(next(iter(named_values.values())))[0]
    ones = tf.ones([rows], tf.int32)
    entries = []
    for name in sorted(named_values):
        value = named_values[name]
        is_float = value.dtype == tf.float32
        values = _encode(
            "tensorflow.FloatList" if is_float else "tensorflow.Int64List",
            ["value"],
            [value if is_float else tf.cast(value, tf.int64)],
            [tf.fill([rows], tf.shape(value)[1])],
        )
        feature = _encode(
            "tensorflow.Feature",
            ["float_list" if is_float else "int64_list"],
            [values[:, None]],
            [ones],
        )
        entries.append(
            _encode(
                "tensorflow.Features.FeatureEntry",
                ["key", "value"],
                [tf.fill([rows, 1], name), feature[:, None]],
                [ones, ones],
            )
        )
    features = _encode(
        "tensorflow.Features", ["feature"], [tf.stack(entries, axis=1)],
        [tf.fill([rows], len(entries))],
    )
    return _encode("tensorflow.Example", ["features"], [features[:, None]], [ones])


def serialize_examples(arrays, use_v2_feature_names):
    """Serialized `tf.train.Example`s (NumPy array of bytes), one per row.

    `arrays` maps model names to NumPy arrays [N] or [N, L].
    """
    named = {}
    for name, value in arrays.items():
        value = value.reshape(len(value), -1)
        dtype = tf.float32 if name == "masked_lm_weights" else tf.int64
        named[file_name(name, use_v2_feature_names)] = tf.constant(value, dtype)
    return _serialize_batch(named).numpy()
