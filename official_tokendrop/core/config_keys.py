"""Every Model Garden key of an experiment: implemented, or refused when set.

Our configs inherit Model Garden's dataclasses, so a YAML copied from a
Model Garden experiment may set any of their keys. Each key of `task`
(and `task.model`), of the data configs, of `trainer` and of `runtime` is
in exactly one table here: IMPLEMENTED (the run does what Model Garden
documents; the note says where) or REFUSED (the values the run computes,
Model Garden's default first; any other value ends the run before anything
is built, naming the key). The encoder's keys have their own table in
`experiment_configs` (`_RENAMED` / `_FIXED`). A test keeps the tables equal
to the dataclasses', so a Model Garden upgrade that adds a key fails it.
"""

from official_tokendrop.errors import ConfigurationError

_DATA_IMPLEMENTED = {
    "input_path": "the TFRecord files (globs, comma lists)",
    "global_batch_size": "split over replicas and input pipelines",
    "is_training": "shuffle and repeat (train), one ordered pass (validation)",
    "seq_length": "checked against the files and the encoder",
    "max_predictions_per_seq": "checked against the files",
    "use_next_sentence_label": "reads next_sentence_labels for the next_sentence head",
    "use_v2_feature_names": "input_word_ids / input_type_ids (true) or input_ids / segment_ids",
    "shuffle_buffer_size": "training shuffle buffer",
    "seed": "data order and read-time masks (task.seed when unset)",
    "dynamic_masking": "masks chosen at read time (ours)",
    "masked_lm_prob": "share of tokens masked at read time (ours)",
    "whole_word_masking": "read-time masks cover whole words (ours)",
}
_DATA_REFUSED = {
    "drop_remainder": (True,),  # XLA's static shapes: every batch is full
    "tfds_name": ("",),
    "tfds_split": ("",),
    "tfds_data_dir": ("",),
    "tfds_as_supervised": (False,),
    "tfds_skip_decoding_feature": ("",),
    "cache": (False,),
    "cycle_length": (None,),  # files are interleaved 8 at a time
    "block_length": (1,),
    "ram_budget": (None,),
    "deterministic": (None,),  # deterministic whenever a seed is set
    "prefetch_buffer_size": (None,),
    "autotune_algorithm": (None,),
    "sharding": (True,),  # files are sharded over input pipelines
    "enable_tf_data_service": (False,),
    "tf_data_service_address": (None,),
    "tf_data_service_job_name": (None,),
    "enable_shared_tf_data_service_between_parallel_trainers": (False,),
    "apply_tf_data_service_before_batching": (False,),
    "trainer_id": (None,),
    "use_position_id": (False,),
    "file_type": ("tfrecord",),
}

IMPLEMENTED = {
    "task": {
        "init_checkpoint": "weights before step 0 (interop/init_checkpoint)",
        "name": "a label; nothing reads it, as in Model Garden's masked-LM task",
        "vocab_file": "the data's WordPiece vocabulary (ours)",
        "sample_data": "the demo's corpus and TFRecords (ours)",
        "export": "a keras-hub preset when training ends (ours)",
        "seed": "initialisation, dropout, random keep, data order (ours)",
        "token_table_warmup_steps": "batches that warm the token table before step 0 (ours)",
        "model": "task.model.*, below, and the encoder's table",
        "train_data": "the data keys, below",
        "validation_data": "the data keys, below",
    },
    "task.model": {
        "encoder": "the encoder's table (experiment_configs)",
        "cls_heads": "none, or one named next_sentence",
    },
    "task.train_data": _DATA_IMPLEMENTED,
    "task.validation_data": _DATA_IMPLEMENTED,
    "trainer": {
        "optimizer_config": "core/optimization",
        "steps_per_loop": "steps per traced loop",
        "summary_interval": "train summaries and the progress line",
        "checkpoint_interval": "checkpoints on its multiples",
        "max_to_keep": "checkpoints kept",
        "train_steps": "the run's last step",
        "validation_steps": "batches per evaluation (0: all)",
        "validation_interval": "evaluations on its multiples (train_and_eval)",
        "validation_summary_subdir": "the evaluation summaries' directory under model_dir",
        "continuous_eval_timeout": "continuous_eval: seconds to wait for a new checkpoint",
        "best_checkpoint_export_subdir": "keeps the best evaluated checkpoint there",
        "best_checkpoint_eval_metric": "the metric that ranks them",
        "best_checkpoint_metric_comp": "higher or lower is better",
        "loss_upper_bound": "a loop's loss above it (from recovery_begin_steps) is a divergence",
        "recovery_begin_steps": "from this step on",
        "recovery_max_trials": "divergences undone from the last checkpoint before the run stops (-1: never checked)",
        "preemption_on_demand_checkpoint": "SIGTERM / Ctrl-C save the step reached (core/preemption)",
    },
    "runtime": {
        "distribution_strategy": "one_device, mirrored, multi_worker_mirrored, tpu",
        "enable_xla": "the step's XLA scope",
        "tpu": "the TPU address",
        "num_gpus": "the GPUs of mirrored / one_device",
        "all_reduce_alg": "mirrored's all-reduce",
        "num_packs": "mirrored's all-reduce packing",
        "worker_hosts": "the cluster of a multi-worker run (else TF_CONFIG)",
        "task_index": "this worker's index in worker_hosts",
        "mixed_precision_dtype": "the model's dtype policy (float32, bfloat16, float16)",
    },
}

REFUSED = {
    "task": {
        "differential_privacy_config": (None,),
        "allow_image_summary": (False,),
        "scale_loss": (False,),
    },
    "task.model": {
        # keras-hub's MaskedLMHead, as built by BertPretrainer.
        "mlm_activation": ("gelu",),
        "mlm_initializer_range": (0.02,),
        "mlm_output_weights_use_proj": (False,),
    },
    "task.train_data": _DATA_REFUSED,
    "task.validation_data": _DATA_REFUSED,
    "trainer": {
        # The run's loops: a traced while loop of steps; evaluation steps
        # traced, batches fed from Python.
        "train_tf_while_loop": (True,),
        "train_tf_function": (True,),
        "eval_tf_function": (True,),
        "eval_tf_while_loop": (False,),
        "allow_tpu_summary": (False,),
    },
    "runtime": {
        "loss_scale": (None, "dynamic"),  # float16 uses a dynamic loss scale
        "gpu_thread_mode": (None,),
        "per_gpu_thread_count": (0,),
        "dataset_num_private_threads": (None,),
        "run_eagerly": (False,),
        "batchnorm_spatial_persistent": (False,),
        "tpu_enable_xla_dynamic_padder": (None,),
        "num_cores_per_replica": (1,),
        "default_shard_dim": (-1,),
        "use_tpu_mp_strategy": (False,),
    },
}


def section(params, name):
    """The config object of `name` ("task.model", "runtime", ...) in `params`."""
    config = params
    for part in name.split("."):
        config = getattr(config, part)
    return config


def check_supported(params):
    """Refuses a value of a key this project does not implement, naming the
    key (before anything is built or written)."""
    for name, keys in REFUSED.items():
        config = section(params, name)
        for key, allowed in keys.items():
            value = getattr(config, key)
            if value not in allowed:
                raise ConfigurationError(
                    f"{name}.{key}={value!r} is not implemented by this trainer; leave it at "
                    f"{' or '.join(repr(a) for a in allowed)}.")
