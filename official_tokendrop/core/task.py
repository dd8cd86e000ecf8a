"""The pretraining task: models and input pipelines from an experiment config."""

import keras
import tensorflow as tf

from official_tokendrop.data.file_patterns import expand_input_files
from official_tokendrop.data.masking import MaskingConfig
from official_tokendrop.data.pretrain_dataloader import pretrain_dataset
from official_tokendrop.data.vocabulary import load_vocabulary
from official_tokendrop.errors import ConfigurationError, DataError
from official_tokendrop.core.experiment_configs import encoder_arguments, encoder_key
from official_tokendrop.layers.token_selection import check_sequence_fits
from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder
from official_tokendrop.models.token_drop_bert_encoder import checked_schedule
from official_tokendrop.models.token_schedule import stage_keep_ks


def check_model(config):
    """The encoder's arguments of the task config `config`, checked with
    no file read: how the kept tokens and positions fit the data's
    sequences, the encoder's own checks (`checked_schedule`) and the table
    warm-up. The trainer calls this before it builds or writes anything."""
    encoder = encoder_arguments(config)
    for name in ("train_data", "validation_data"):
        data = getattr(config, name)
        if encoder["token_keep_k"] is not None:
            for keep_k in stage_keep_ks(encoder["token_keep_k"], encoder["token_keep_k_schedule"]):
                check_sequence_fits(keep_k, encoder["token_random_keep_k"],
                                    data.seq_length, f"task.{name}.seq_length", ConfigurationError)
        if data.seq_length > encoder["max_sequence_length"]:
            raise ConfigurationError(
                f"task.{name}.seq_length={data.seq_length} exceeds "
                f"{encoder_key('max_sequence_length')}={encoder['max_sequence_length']}."
            )
    checked_schedule(encoder)
    _check_table_warmup(config.token_table_warmup_steps, encoder)
    return encoder


def _check_table_warmup(steps, encoder):
    """`task.token_table_warmup_steps`: an integer >= 0, and only for an
    encoder whose token selection learns a per-id table."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigurationError(f"task.token_table_warmup_steps must be an integer >= 0; got {steps!r}.")
    if not steps:
        return
    if encoder["token_keep_k"] is None:
        raise ConfigurationError(
            f"task.token_table_warmup_steps={steps} warms the token-selection table, but "
            f"{encoder_key('token_keep_k')}=None drops no tokens (there is no table).")
    if encoder["token_selection"] == "random":
        raise ConfigurationError(
            f"task.token_table_warmup_steps={steps} warms the token-selection table, but "
            f"{encoder_key('token_selection')}=random ranks by no table.")


class PretrainingTask:
    """Builds the pretrainer and its datasets from a task config
    (`params.task`), as Model Garden's tasks take it."""

    def __init__(self, config):
        self.config = config
        # The encoder's arguments (its names), translated once from the
        # experiment's Model Garden keys and checked.
        self.encoder_arguments = check_model(config)
        self._vocabularies = {}  # path -> Vocabulary: each file is read once
        self.validate()

    def vocabulary(self, vocab_file=None):
        """The `Vocabulary` of `vocab_file` (default `task.vocab_file`),
        read once per task."""
        vocab_file = vocab_file or self.config.vocab_file
        if vocab_file not in self._vocabularies:
            self._vocabularies[vocab_file] = load_vocabulary(vocab_file)
        return self._vocabularies[vocab_file]

    def validate(self):
        """The constraints between the data, the vocabulary and the export
        (`check_model` checked the encoder and its fit with the data)."""
        for name in ("train_data", "validation_data"):
            data = getattr(self.config, name)
            if data.dynamic_masking and not self.config.vocab_file:
                raise ConfigurationError(
                    f"task.{name}.dynamic_masking needs task.vocab_file (the ids of [MASK] "
                    "and of the special tokens)."
                )
            if data.dynamic_masking:
                self.masking(data)  # MaskingConfig checks its own values, before any step
        if self.config.export and not self.config.vocab_file:
            raise ConfigurationError("task.export needs task.vocab_file (the preset's tokenizer).")
        if self.config.vocab_file:
            self.check_vocabulary(self.config.vocab_file)

    def check_vocabulary(self, vocab_file):
        """The vocabulary must fit the embedding and match the pinned ids."""
        vocab = self.vocabulary(vocab_file)
        encoder = self.encoder_arguments
        if len(vocab) > encoder["vocab_size"]:
            raise ConfigurationError(
                f"{vocab_file} has {len(vocab)} tokens but vocab_size is {encoder['vocab_size']}."
            )
        if encoder["token_keep_k"] is None:
            return
        expected = {"token_allow_list": vocab.token_allow_list, "token_deny_list": vocab.token_deny_list}
        for key, ids in expected.items():
            if encoder[key] != tuple(ids):
                raise ConfigurationError(
                    f"{key}={encoder[key]} does not match the special-token "
                    f"ids of {vocab_file}: {tuple(ids)} ([UNK] [CLS] [SEP] [MASK] / [PAD])."
                )

    def build_model(self, dtype=None):
        """A fresh pretrainer; `dtype` (a Keras dtype policy or its name,
        e.g. from `mixed_precision_policy`) is its and its encoder's own,
        the global policy stays as it is."""
        heads = [h.name for h in self.config.model.cls_heads]
        unknown = [h for h in heads if h != "next_sentence"]
        if unknown:
            raise ConfigurationError(f"cls_heads {unknown} are not supported; only next_sentence.")
        encoder = TokenDropBertEncoder(**self.encoder_arguments, dtype=dtype)
        return BertPretrainer(encoder, next_sentence=bool(heads), dtype=dtype)

    # === Data: the task owns the train and validation inputs ===
    SPLITS = {"train": "train_data", "validation": "validation_data"}

    def data(self, split):
        """The data config of `split` ("train" or "validation")."""
        return getattr(self.config, self.SPLITS[split])

    @property
    def train_seed(self):
        """The training data order's seed (shuffle and dynamic masking)."""
        return 1_000_003 * (self.config.seed or 0)

    def check_batch_fits(self, split):
        """`split` holds at least one full global batch, with masks unless
        they are made at read time.

        Training data repeats, so a smaller file would silently put the same
        examples into one batch several times; evaluation would run nothing.
        Checked before training starts, by counting at most one batch of
        records.
        """
        name, data = self.SPLITS[split], self.data(split)
        files = expand_input_files(data.input_path)
        found = sum(1 for _ in tf.data.TFRecordDataset(files).take(data.global_batch_size))
        if found < data.global_batch_size:
            raise DataError(
                f"task.{name} ({data.input_path}) holds {found} examples, fewer than its "
                f"global_batch_size {data.global_batch_size}."
            )
        if not data.dynamic_masking:
            first = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(files[:1]))).numpy())
            if "masked_lm_positions" not in first.features.feature:
                raise DataError(
                    f"task.{name}: {files[0]} holds no masks (converted with --dynamic_masking); "
                    f"set task.{name}.dynamic_masking=true to mask at read time."
                )

    def masking(self, data):
        """The read-time `MaskingConfig` of `data`, or None (masks stored)."""
        if not data.dynamic_masking:
            return None
        return MaskingConfig.from_vocabulary(
            self.vocabulary(), data.max_predictions_per_seq,
            data.masked_lm_prob, whole_word=data.whole_word_masking)

    def build_inputs(self, split, input_context=None, seed=None):
        """The batched `tf.data.Dataset` of `split` (one input pipeline)."""
        data = self.data(split)
        if not data.input_path:
            raise ConfigurationError(f"task.{self.SPLITS[split]}.input_path is empty.")
        return pretrain_dataset(
            data.input_path,
            data.global_batch_size,
            data.seq_length,
            data.max_predictions_per_seq,
            is_training=data.is_training,
            use_v2_feature_names=data.use_v2_feature_names,
            use_next_sentence_label=data.use_next_sentence_label,
            input_context=input_context,
            shuffle_buffer_size=data.shuffle_buffer_size,
            seed=seed if seed is not None else data.seed,
            dynamic_masking=self.masking(data),
        )

    def distributed_inputs(self, strategy, split, seed=None):
        """`build_inputs(split)` split across `strategy`'s input pipelines."""
        return strategy.distribute_datasets_from_function(
            lambda context: self.build_inputs(split, context, seed=seed)
        )


def mixed_precision_policy(dtype):
    """Keras policy name for `runtime.mixed_precision_dtype`."""
    policies = {None: "float32", "float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
    if dtype not in policies:
        raise ConfigurationError(f"runtime.mixed_precision_dtype {dtype!r} is not supported.")
    return keras.mixed_precision.Policy(policies[dtype])
