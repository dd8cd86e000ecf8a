"""`tf.data` reader for Model Garden BERT pretraining TFRecords.

Shards by file across input pipelines (`tf.distribute.InputContext`),
interleaves files, shuffles, repeats, batches to fixed shapes for XLA,
parses whole batches at once and prefetches. Optionally masks at read time
(dynamic masking) from unmasked sequences.
"""

import tensorflow as tf

from official_tokendrop.data import features, masking
from official_tokendrop.data.file_patterns import expand_input_files
from official_tokendrop.errors import ConfigurationError, DataError


def _check_first_record(path, spec):
    """Fails early, naming the file, if its features disagree with `spec`."""
    record = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    if record is None:
        raise DataError(f"TFRecord file {path} is empty.")
    example = tf.train.Example.FromString(record.numpy())
    found = example.features.feature
    missing = sorted(set(spec) - set(found))
    if missing:
        raise DataError(
            f"{path} lacks features {missing} (it has {sorted(found)}); check "
            "use_v2_feature_names, use_next_sentence_label and dynamic masking."
        )
    for name, feature_spec in spec.items():
        kind = found[name].WhichOneof("kind")
        length = len(getattr(found[name], kind).value)
        if length != feature_spec.shape[0]:
            raise DataError(
                f"{path}: feature {name} has length {length}, but the config "
                f"expects {feature_spec.shape[0]} (seq_length / "
                "max_predictions_per_seq disagree with the data)."
            )


def _records(files, input_context, is_training, seed):
    """Serialized examples of this input pipeline's share of `files`,
    interleaved (files shuffled and repeated in training)."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        if len(files) < input_context.num_input_pipelines:
            raise ConfigurationError(
                f"{len(files)} file(s) cannot be sharded over "
                f"{input_context.num_input_pipelines} input pipelines; write "
                "at least one shard per pipeline (--num_shards)."
            )
        dataset = dataset.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )
    if is_training:
        dataset = dataset.shuffle(len(files), seed=seed).repeat()
    return dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not is_training or seed is not None,
    )


def _masked(dataset, seed, config):
    """`dataset`'s batches with masked-LM positions chosen and corrupted by
    `masking.mask_tokens` (a fresh seed per batch)."""
    seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)

    def mask(batch, step_seed):
        batch = dict(batch)
        batch.update(masking.mask_tokens(batch["input_word_ids"], batch["input_mask"], step_seed, config))
        return batch

    return tf.data.Dataset.zip((dataset, seeds)).map(mask, num_parallel_calls=tf.data.AUTOTUNE)


def pretrain_dataset(
    input_path,
    global_batch_size,
    seq_length,
    max_predictions_per_seq,
    is_training=True,
    use_v2_feature_names=True,
    use_next_sentence_label=False,
    input_context=None,
    shuffle_buffer_size=10000,
    seed=None,
    dynamic_masking=None,
):
    """Builds the dataset of feature dicts (model names, int32/float32).

    Args:
        input_path: file, glob, or comma-separated list of them.
        global_batch_size: split evenly over replicas via `input_context`.
        seq_length, max_predictions_per_seq: shapes the files must have.
        is_training: shuffle and repeat forever; else one ordered pass.
        use_v2_feature_names: read `input_word_ids`/`input_type_ids`
            instead of `input_ids`/`segment_ids`.
        use_next_sentence_label: also read `next_sentence_labels`.
        input_context: a `tf.distribute.InputContext`, or None.
        shuffle_buffer_size: examples in the shuffle buffer.
        seed: seed of shuffling and dynamic masking.
        dynamic_masking: a `masking.MaskingConfig` to mask at read time
            (the files then need no masked-LM features), or None.

    Batches always have the same shape (`drop_remainder`).
    """
    files = expand_input_files(input_path)
    batch_size = global_batch_size
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
    spec = features.parse_spec(
        seq_length,
        max_predictions_per_seq,
        use_v2_feature_names,
        masked=dynamic_masking is None,
        next_sentence=use_next_sentence_label,
    )
    _check_first_record(files[0], spec)

    dataset = _records(files, input_context, is_training, seed)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=True)

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        return features.to_model_names(parsed, use_v2_feature_names)

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if dynamic_masking is not None:
        dataset = _masked(dataset, seed, dynamic_masking)
    return dataset.prefetch(tf.data.AUTOTUNE)
