"""The pretraining task: models and input pipelines from an experiment config."""

import keras

from official_tokendrop.data.pretrain_dataloader import pretrain_dataset
from official_tokendrop.data.vocabulary import load_vocabulary
from official_tokendrop.errors import ConfigurationError, DataError
from official_tokendrop.experiment_configs import encoder_config
from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder

# Both names mean BERT's GELU; the blocks use keras-hub's tanh form so the
# exported BertBackbone computes exactly what we trained.
_GELU = ("gelu",)


class PretrainingTask:
    """Builds the pretrainer and its datasets from `params.task`."""

    def __init__(self, params):
        self.params = params
        self.config = params.task
        self.encoder_config = encoder_config(params)
        self.validate()

    def validate(self):
        encoder = self.encoder_config
        if encoder.hidden_activation not in _GELU:
            raise ConfigurationError(
                f"hidden_activation {encoder.hidden_activation!r} is not supported; "
                "the encoder uses BERT's gelu."
            )
        if encoder.embedding_size not in (None, encoder.hidden_size):
            raise ConfigurationError("embedding_size different from hidden_size is not supported.")
        for name in ("train_data", "validation_data"):
            data = getattr(self.config, name)
            if encoder.token_keep_k is not None and (
                encoder.token_keep_k + encoder.token_random_keep_k > data.seq_length
            ):
                raise ConfigurationError(
                    f"token_keep_k={encoder.token_keep_k} (+ random "
                    f"{encoder.token_random_keep_k}) exceeds task.{name}.seq_length="
                    f"{data.seq_length}."
                )
            if data.dynamic_masking and not self.config.vocab_file:
                raise ConfigurationError(
                    f"task.{name}.dynamic_masking needs task.vocab_file (the ids of [MASK] "
                    "and of the special tokens)."
                )
            if data.dynamic_masking:
                self.masking(data)  # MaskingConfig checks its own values, before any step
            if data.seq_length > encoder.max_position_embeddings:
                raise ConfigurationError(
                    f"task.{name}.seq_length={data.seq_length} exceeds "
                    f"max_position_embeddings={encoder.max_position_embeddings}."
                )
        if self.config.vocab_file:
            self.check_vocabulary(self.config.vocab_file)

    def check_vocabulary(self, vocab_file):
        """The vocabulary must fit the embedding and match the pinned ids."""
        vocab = load_vocabulary(vocab_file)
        encoder = self.encoder_config
        if len(vocab) > encoder.vocab_size:
            raise ConfigurationError(
                f"{vocab_file} has {len(vocab)} tokens but vocab_size is {encoder.vocab_size}."
            )
        if encoder.token_keep_k is None:
            return
        expected = {"token_allow_list": vocab.token_allow_list, "token_deny_list": vocab.token_deny_list}
        for key, ids in expected.items():
            if tuple(getattr(encoder, key)) != tuple(ids):
                raise ConfigurationError(
                    f"{key}={tuple(getattr(encoder, key))} does not match the special-token "
                    f"ids of {vocab_file}: {tuple(ids)} ([UNK] [CLS] [SEP] [MASK] / [PAD])."
                )

    def build_model(self):
        e = self.encoder_config
        encoder = TokenDropBertEncoder(
            vocab_size=e.vocab_size,
            hidden_size=e.hidden_size,
            num_layers=e.num_layers,
            num_attention_heads=e.num_attention_heads,
            inner_dim=e.intermediate_size,
            max_sequence_length=e.max_position_embeddings,
            type_vocab_size=e.type_vocab_size,
            output_dropout=e.dropout_rate,
            attention_dropout=e.attention_dropout_rate,
            initializer_range=e.initializer_range,
            token_keep_k=e.token_keep_k,
            token_random_keep_k=e.token_random_keep_k,
            token_loss_init_value=e.token_loss_init_value,
            token_loss_beta=e.token_loss_beta,
            token_allow_list=tuple(e.token_allow_list),
            token_deny_list=tuple(e.token_deny_list),
            first_drop_layer=e.first_drop_layer,
            last_drop_layer=e.last_drop_layer,
        )
        heads = [h.name for h in self.config.model.cls_heads]
        unknown = [h for h in heads if h != "next_sentence"]
        if unknown:
            raise ConfigurationError(f"cls_heads {unknown} are not supported; only next_sentence.")
        return BertPretrainer(encoder, next_sentence=bool(heads))

    def check_batch_fits(self, name):
        """`task.<name>` holds at least one full global batch, with masks
        unless they are made at read time.

        Training data repeats, so a smaller file would silently put the same
        examples into one batch several times; evaluation would run nothing.
        Checked before training starts, by counting at most one batch of
        records.
        """
        import tensorflow as tf

        from official_tokendrop.data.file_patterns import expand_input_files

        data = getattr(self.config, name)
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
        from official_tokendrop.data.masking import MaskingConfig

        return MaskingConfig.from_vocabulary(
            load_vocabulary(self.config.vocab_file), data.max_predictions_per_seq,
            data.masked_lm_prob, whole_word=data.whole_word_masking)

    def build_inputs(self, data, input_context=None, seed=None):
        if not data.input_path:
            raise ConfigurationError("task data input_path is empty.")
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


def mixed_precision_policy(dtype):
    """Keras policy name for `runtime.mixed_precision_dtype`."""
    policies = {None: "float32", "float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
    if dtype not in policies:
        raise ConfigurationError(f"runtime.mixed_precision_dtype {dtype!r} is not supported.")
    return keras.mixed_precision.Policy(policies[dtype])
