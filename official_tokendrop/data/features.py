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


def serialize_examples(arrays, use_v2_feature_names):
    """Yields serialized `tf.train.Example`s, one per row of `arrays`.

    `arrays` maps model names to NumPy arrays with a leading row axis.
    """
    Feature, Int64List, FloatList = tf.train.Feature, tf.train.Int64List, tf.train.FloatList
    names = [(n, file_name(n, use_v2_feature_names)) for n in arrays]
    lists = {n: arrays[n].tolist() for n, _ in names}
    for row in range(len(next(iter(lists.values())))):
        feature = {}
        for name, key in names:
            values = lists[name][row]
            values = values if isinstance(values, list) else [values]
            if name == "masked_lm_weights":
                feature[key] = Feature(float_list=FloatList(value=values))
            else:
                feature[key] = Feature(int64_list=Int64List(value=values))
        yield tf.train.Example(
            features=tf.train.Features(feature=feature)
        ).SerializeToString()
