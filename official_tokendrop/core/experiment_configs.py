"""Model Garden experiment configs: `bert/pretraining`,
`token_drop_bert/pretraining` and `token_drop_bert/demo`.

The YAML layout and keys are the reference's
(`task.model.encoder.type: any` with the encoder keys under `any`,
`task.train_data`, `task.validation_data`, `trainer`, `runtime`), so its
YAML files load unchanged.
"""

import dataclasses
import inspect
from typing import List, Optional, Tuple

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams, optimization
from official.modeling.hyperparams import base_config
from official.nlp.configs import bert, encoders
from official.nlp.data import pretrain_dataloader

from official_tokendrop.errors import ConfigurationError
from official_tokendrop.models import TokenDropBertEncoder

# The token keys' defaults are the encoder's own (one default each).
_ENCODER_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(TokenDropBertEncoder).parameters.items()
}


@dataclasses.dataclass
class KeepStage(base_config.Config):
    """One stage of `token_keep_k_schedule`: from `start_step` on, keep `keep_k`."""

    start_step: Optional[int] = None
    keep_k: Optional[int] = None


@dataclasses.dataclass
class TokenDropBertEncoderConfig(encoders.BertEncoderConfig):
    """The reference's encoder keys, plus ours (random keep, drop layers)."""

    token_keep_k: Optional[int] = _ENCODER_DEFAULTS["token_keep_k"]
    token_allow_list: Tuple[int, ...] = _ENCODER_DEFAULTS["token_allow_list"]
    token_deny_list: Tuple[int, ...] = _ENCODER_DEFAULTS["token_deny_list"]
    token_loss_init_value: float = _ENCODER_DEFAULTS["token_loss_init_value"]
    token_loss_beta: float = _ENCODER_DEFAULTS["token_loss_beta"]
    token_random_keep_k: int = _ENCODER_DEFAULTS["token_random_keep_k"]
    first_drop_layer: Optional[int] = _ENCODER_DEFAULTS["first_drop_layer"]
    last_drop_layer: Optional[int] = _ENCODER_DEFAULTS["last_drop_layer"]
    # Beyond the paper (see TokenDropBertEncoder): "loss", "random" or
    # "frequency"; keep-k stages as a list of {start_step, keep_k} (Model
    # Garden configs take no nested lists); hybrid full steps; consistency.
    token_selection: str = _ENCODER_DEFAULTS["token_selection"]
    token_keep_k_schedule: List[KeepStage] = dataclasses.field(default_factory=list)
    token_full_step_every: int = _ENCODER_DEFAULTS["token_full_step_every"]
    token_consistency_weight: float = _ENCODER_DEFAULTS["token_consistency_weight"]


# === The translation table: Model Garden's encoder keys -> the encoder's ===
# Keys renamed on the way in; every other key the encoder takes keeps its
# name. Inside the package only the encoder's names are used.
_RENAMED = {
    "intermediate_size": "inner_dim",
    "max_position_embeddings": "max_sequence_length",
    "dropout_rate": "output_dropout",
    "attention_dropout_rate": "attention_dropout",
}
# Model Garden keys the encoder does not take: the values that mean what
# it computes (no factorized embedding; post-LN; the usual outputs).
# `hidden_activation` is the encoder's own argument: "gelu" is Model
# Garden's (tanh) GELU, "gelu_exact" the erf form.
_FIXED = {
    "embedding_size": (None, "hidden_size"),
    "output_range": (None,),
    "return_all_encoder_outputs": (False, True),
    "return_attention_scores": (False,),
    "return_word_embeddings": (False,),
    "norm_first": (False,),
}
_ENCODER_KEY = "task.model.encoder.any"


def encoder_key(argument):
    """The experiment key of the encoder argument `argument`."""
    renamed = {ours: theirs for theirs, ours in _RENAMED.items()}
    return f"{_ENCODER_KEY}.{renamed.get(argument, argument)}"


@dataclasses.dataclass
class PretrainDataConfig(pretrain_dataloader.BertPretrainDataConfig):
    """Model Garden's pretraining data keys, plus masking at read time."""

    # Mask at read time (files converted with --dynamic_masking hold none):
    # a fresh choice of masked positions every time a sequence is read,
    # with BERT's 80/10/10 corruption; needs task.vocab_file.
    dynamic_masking: bool = False
    masked_lm_prob: float = 0.15
    whole_word_masking: bool = False


@dataclasses.dataclass
class TokenDropMaskedLMConfig(cfg.TaskConfig):
    """Masked-LM pretraining task; field names follow Model Garden's."""

    model: bert.PretrainerConfig = dataclasses.field(
        default_factory=lambda: bert.PretrainerConfig(
            encoder=encoders.EncoderConfig(type="any", any=TokenDropBertEncoderConfig())
        )
    )
    scale_loss: bool = False
    train_data: PretrainDataConfig = dataclasses.field(default_factory=PretrainDataConfig)
    validation_data: PretrainDataConfig = dataclasses.field(
        default_factory=lambda: PretrainDataConfig(is_training=False)
    )
    # The WordPiece vocabulary of the data; when set, the allow and deny
    # lists are checked against its special-token ids.
    vocab_file: str = ""
    # Build a sample corpus, vocabulary and TFRecords under model_dir/data
    # when the input paths are empty (the demo).
    sample_data: bool = False
    # Write a keras-hub BERT preset (masked-LM task and tokenizer) to
    # model_dir/export when training ends; needs task.vocab_file.
    export: bool = False
    # Fixes initialisation, dropout, random keep and the training data
    # order (shuffle and dynamic masking), so two runs with one seed take
    # the same steps. None: unseeded (the reference's behaviour).
    seed: Optional[int] = None
    # Before step 0 of a run that restores no checkpoint (from scratch or
    # from init_checkpoint): this many training batches through the full
    # encoder, forward only, moving only the token-selection table (the
    # importance table, or the frequency counts) as a training step would.
    # A continued run's table otherwise starts from init_value for every id.
    token_table_warmup_steps: int = 0


def _optimization(learning_rate, train_steps, warmup_steps):
    return optimization.OptimizationConfig(
        {
            "optimizer": {
                "type": "adamw",
                "adamw": {
                    "weight_decay_rate": 0.01,
                    "exclude_from_weight_decay": ["LayerNorm", "layer_norm", "bias"],
                },
            },
            "learning_rate": {
                "type": "polynomial",
                "polynomial": {
                    "initial_learning_rate": learning_rate,
                    "decay_steps": train_steps,
                    "end_learning_rate": 0.0,
                    "power": 1.0,
                },
            },
            "warmup": {"type": "polynomial", "polynomial": {"warmup_steps": warmup_steps, "power": 1.0}},
        }
    )


def _data(seq_length, predictions, batch, is_training):
    return PretrainDataConfig(
        global_batch_size=batch,
        is_training=is_training,
        seq_length=seq_length,
        max_predictions_per_seq=predictions,
        use_next_sentence_label=False,
        use_v2_feature_names=True,
        drop_remainder=True,
    )


def _experiment(encoder, seq_length, predictions, batch, trainer, sample_data=False, export=False):
    return cfg.ExperimentConfig(
        runtime=cfg.RuntimeConfig(enable_xla=True, distribution_strategy="one_device"),
        task=TokenDropMaskedLMConfig(
            model=bert.PretrainerConfig(
                encoder=encoders.EncoderConfig(type="any", any=encoder)
            ),
            train_data=_data(seq_length, predictions, batch, True),
            validation_data=_data(seq_length, predictions, batch, False),
            sample_data=sample_data,
            export=export,
        ),
        trainer=trainer,
        restrictions=[
            "task.train_data.is_training != None",
            "task.validation_data.is_training != None",
        ],
    )


# Evaluation summaries go to model_dir/eval, beside model_dir/train (Model
# Garden's default is "validation"; TensorBoard and the study read "eval").
_EVAL_SUMMARIES = "eval"


def _paper_trainer():
    return cfg.TrainerConfig(
        train_steps=1_000_000,
        checkpoint_interval=20_000,
        max_to_keep=5,
        steps_per_loop=1000,
        summary_interval=1000,
        validation_interval=20_000,
        validation_steps=64,
        validation_summary_subdir=_EVAL_SUMMARIES,
        optimizer_config=_optimization(1e-4, 1_000_000, 10_000),
    )


@exp_factory.register_config_factory("token_drop_bert/pretraining")
def token_drop_bert_pretraining() -> cfg.ExperimentConfig:
    """BERT-base with token dropping, the paper's settings."""
    return _experiment(TokenDropBertEncoderConfig(), 512, 76, 512, _paper_trainer())


@exp_factory.register_config_factory("bert/pretraining")
def bert_pretraining() -> cfg.ExperimentConfig:
    """The baseline: the same encoder and trainer with dropping off."""
    return _experiment(
        TokenDropBertEncoderConfig(token_keep_k=None), 512, 76, 512, _paper_trainer()
    )


@exp_factory.register_config_factory("token_drop_bert/demo")
def token_drop_bert_demo() -> cfg.ExperimentConfig:
    """A small model on the sample corpus: minutes on 2 CPU cores."""
    encoder = TokenDropBertEncoderConfig(
        vocab_size=2000,
        hidden_size=128,
        num_layers=4,
        num_attention_heads=2,
        intermediate_size=256,
        max_position_embeddings=128,
        token_keep_k=64,
        token_allow_list=(1, 2, 3, 4),
        token_deny_list=(0,),
    )
    trainer = cfg.TrainerConfig(
        train_steps=300,
        checkpoint_interval=100,
        max_to_keep=3,
        steps_per_loop=25,
        summary_interval=25,
        validation_interval=300,
        validation_steps=20,
        validation_summary_subdir=_EVAL_SUMMARIES,
        optimizer_config=_optimization(1e-3, 300, 30),
    )
    return _experiment(encoder, 128, 20, 32, trainer, sample_data=True, export=True)


EXPERIMENTS = ("token_drop_bert/pretraining", "bert/pretraining", "token_drop_bert/demo")


def experiment(name, overrides=None, strict=True) -> cfg.ExperimentConfig:
    """The registered experiment `name` with `overrides` applied (a dict, a
    YAML file or a `key=value,...` string; strict: every key must exist)."""
    params = exp_factory.get_exp_config(name)
    if overrides:
        params = hyperparams.override_params_dict(params, overrides, is_strict=strict)
    return params


def encoder_arguments(task_config) -> dict:
    """`TokenDropBertEncoder`'s arguments from a task config's encoder keys
    (`params.task`).

    Refuses an encoder `type` other than `any` and a value of a Model
    Garden key the encoder does not implement, naming the key.
    """
    encoder = task_config.model.encoder
    if encoder.type != "any":
        raise ConfigurationError(
            f"task.model.encoder.type must be 'any' (the token-drop encoder); "
            f"got {encoder.type!r}."
        )
    config = encoder.any.as_dict()
    for key, allowed in _FIXED.items():
        values = [config[a] if a in config else a for a in allowed]
        if config[key] not in values:
            raise ConfigurationError(
                f"{_ENCODER_KEY}.{key}={config[key]!r} is not supported by the token-drop "
                f"encoder; it takes {' or '.join(repr(v) for v in values)}."
            )
    arguments = {_RENAMED.get(key, key): value for key, value in config.items() if key not in _FIXED}
    unknown = sorted(set(arguments) - set(_ENCODER_DEFAULTS))
    if unknown:  # a key added to the config but not to the encoder or the table
        raise ConfigurationError(f"{_ENCODER_KEY} keys {unknown} have no encoder argument.")
    for key in ("token_allow_list", "token_deny_list"):
        arguments[key] = tuple(arguments[key])
    arguments["token_keep_k_schedule"] = tuple(
        (stage["start_step"], stage["keep_k"]) for stage in arguments["token_keep_k_schedule"]
    )
    return arguments
