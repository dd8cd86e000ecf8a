"""A pretrainer from an experiment's task config, fresh or restored from a
training model_dir: what export, the study, the benchmarks and the tests
build their models with."""

import os

import tensorflow as tf
import yaml

from official_tokendrop.core import checkpoints, experiment_configs
from official_tokendrop.core.task import PretrainingTask
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError

# The experiment whose keys a model_dir's params.yaml is read into (every
# registered experiment has the same keys).
PARAMS_EXPERIMENT = "token_drop_bert/pretraining"


def build_pretrainer(task_config, dtype=None):
    """A fresh pretrainer of `task_config` (`params.task`), initialised from
    Keras' random state; `dtype` is its dtype policy (default: the global one)."""
    return PretrainingTask(task_config).build_model(dtype=dtype)


def read_params(model_dir):
    """The experiment config a training run wrote to `model_dir/params.yaml`
    (the one reader of that file: export, `task.init_checkpoint` of a
    model_dir, the study)."""
    params_file = os.path.join(model_dir, "params.yaml")
    if not tf.io.gfile.exists(params_file):
        raise MissingFileError(f"{model_dir} has no params.yaml; is it a training model_dir?")
    try:
        return experiment_configs.experiment(PARAMS_EXPERIMENT, params_file, strict=False)
    except (yaml.YAMLError, ValueError, KeyError, TypeError) as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise DataError(f"{params_file} is not a readable experiment config ({reason}).") from None


def restore_pretrainer(model_dir, vocab_file=None):
    """The pretrainer of `model_dir`'s latest checkpoint, every weight restored.

    Returns (pretrainer, params, vocab_file, checkpoint path). A checkpoint
    whose model differs from params.yaml's (more or fewer weights, other
    shapes) is refused: a partial restore would ship a wrong model.
    """
    params = read_params(model_dir)
    vocab_file = vocab_file or params.task.vocab_file
    if not vocab_file:
        raise ConfigurationError("No vocabulary: pass --vocab_file (task.vocab_file is empty).")
    task = PretrainingTask(params.task)
    task.check_vocabulary(vocab_file)
    pretrainer = task.build_model()
    params_file = os.path.join(model_dir, "params.yaml")
    checkpoint = checkpoints.restore_newest_intact(
        tf.train.Checkpoint(model=pretrainer), model_dir, pretrainer, f"the model of {params_file}"
    )
    if checkpoint is None:
        raise MissingFileError(f"{model_dir} holds no checkpoint to export.")
    return pretrainer, params, vocab_file, checkpoint
