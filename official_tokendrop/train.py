"""Pretraining entry point, Model Garden style.

    python -m official_tokendrop.train --experiment=token_drop_bert/pretraining \
        --config_file=experiments/configs/bert_base_token_drop.yaml \
        --params_override="trainer.train_steps=1000" \
        --mode=train_and_eval --model_dir=/tmp/run

Experiments: `token_drop_bert/pretraining` (paper), `bert/pretraining`
(baseline), `token_drop_bert/demo` (minutes on a CPU; builds its own data).
Modes: train, eval, train_and_eval, continuous_eval. SIGTERM or Ctrl-C
while training saves the step reached (core/preemption).
Errors in the configuration or the data end the program with one line and
exit status 1.
"""

import contextlib
import os
import sys
import time

from official_tokendrop import cli  # noqa: E402,F401  (quiets TensorFlow before it loads)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import yaml  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from official.common import distribute_utils  # noqa: E402
from official.common import flags as tfm_flags  # noqa: E402
from official.core import train_utils  # noqa: E402

from official_tokendrop.cli import one_line_errors  # noqa: E402
from official_tokendrop.core import checkpoints, config_keys, experiment_configs  # noqa: E402
from official_tokendrop.core.runner import MODES, Runner  # noqa: E402
from official_tokendrop.core.task import check_model  # noqa: E402
from official_tokendrop.data.sample_dataset import prepare_sample_dataset  # noqa: E402
from official_tokendrop.errors import ConfigurationError  # noqa: E402
from official_tokendrop.interop.init_checkpoint import check_source  # noqa: E402
from official_tokendrop.utils.outputs import writing  # noqa: E402

FLAGS = flags.FLAGS


def _configuration_error(error):
    """Model Garden's error on parsing or validating a config, as ours; its
    message names the key or the file."""
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    return ConfigurationError(f"the experiment configuration: {message}")


def _check_writable(model_dir):
    try:
        tf.io.gfile.makedirs(model_dir)
        # One probe per process: two runs started together must not
        # remove each other's probe.
        probe = os.path.join(model_dir, f".write_test_{os.getpid()}")
        with tf.io.gfile.GFile(probe, "w") as f:
            f.write("ok")
        tf.io.gfile.remove(probe)
    except (tf.errors.OpError, OSError) as error:
        raise ConfigurationError(f"model_dir {model_dir} is not writable: {error}") from None


def check_trainer_config(trainer):
    """The trainer keys' values (checked before anything is built)."""
    smallest = {"train_steps": 1, "steps_per_loop": 1, "checkpoint_interval": 1,
                "continuous_eval_timeout": 1, "recovery_begin_steps": 0, "recovery_max_trials": -1,
                "summary_interval": None, "validation_interval": None, "validation_steps": None}
    for key, least in smallest.items():
        value = getattr(trainer, key)
        if isinstance(value, bool) or not isinstance(value, int) or (least is not None and value < least):
            kind = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
                least, f"an integer >= {least}")
            raise ConfigurationError(f"trainer.{key} must be {kind}; got {value!r}.")
    if trainer.best_checkpoint_metric_comp not in ("higher", "lower"):
        raise ConfigurationError("trainer.best_checkpoint_metric_comp must be 'higher' or 'lower'; "
                                 f"got {trainer.best_checkpoint_metric_comp!r}.")
    if trainer.best_checkpoint_export_subdir and not trainer.best_checkpoint_eval_metric:
        raise ConfigurationError("trainer.best_checkpoint_export_subdir needs "
                                 "trainer.best_checkpoint_eval_metric (e.g. mlm_loss, with 'lower').")


def check_init_checkpoint(task, encoder, model_dir):
    """Refuses a `task.init_checkpoint` that does not fit the model (the
    encoder's arguments `encoder`) before anything is written; a model_dir
    with checkpoints resumes instead."""
    if task.init_checkpoint and not checkpoints.candidates(model_dir):
        check_source(task.init_checkpoint, encoder, task.vocab_file or None)


def strategy_for(runtime):
    """The `tf.distribute` strategy that `runtime` names (a multi-worker
    cluster from `runtime.worker_hosts` and `task_index`, or TF_CONFIG)."""
    if runtime.worker_hosts:
        if os.environ.get("TF_CONFIG"):
            raise ConfigurationError("runtime.worker_hosts and the TF_CONFIG environment variable "
                                     "both name a cluster; set one.")
        try:
            distribute_utils.configure_cluster(runtime.worker_hosts, runtime.task_index)
        except ValueError as error:
            raise ConfigurationError(f"runtime.worker_hosts / runtime.task_index: {error}") from None
    return distribute_utils.get_distribution_strategy(
        distribution_strategy=runtime.distribution_strategy,
        num_gpus=runtime.num_gpus,
        tpu_address=runtime.tpu,
        all_reduce_alg=runtime.all_reduce_alg,
        num_packs=runtime.num_packs,
    )


def prepare_sample_data(params, model_dir):
    """For `task.sample_data`: builds the demo data and points params at it."""
    task = params.task
    if task.train_data.input_path and task.validation_data.input_path:
        return
    data = prepare_sample_dataset(
        os.path.join(model_dir, "data"),
        task.train_data.seq_length,
        task.train_data.max_predictions_per_seq,
        task.model.encoder.any.vocab_size,
    )
    params.override(
        {
            "task": {
                "vocab_file": data.vocab_file,
                "train_data": {"input_path": data.train_pattern},
                "validation_data": {"input_path": data.validation_pattern},
            }
        }
    )


def run(params, model_dir, mode, strategy=None):
    """Runs `mode` for the parsed experiment `params`; returns the results."""
    if mode not in MODES:
        raise ConfigurationError(f"--mode must be one of {MODES}; got {mode!r}.")
    check_trainer_config(params.trainer)
    config_keys.check_supported(params)
    # The model's settings, before the demo's data is built.
    encoder = check_model(params.task)
    check_init_checkpoint(params.task, encoder, model_dir)
    _check_writable(model_dir)
    if params.task.sample_data:
        prepare_sample_data(params, model_dir)
    try:
        params.validate()
    except (KeyError, ValueError) as error:
        raise _configuration_error(error) from None
    params.lock()
    strategy = strategy or strategy_for(params.runtime)
    # The program's global state, set once before anything is built: the
    # seed of initialisation, dropout and random keep.
    if params.task.seed is not None:
        keras.utils.set_random_seed(params.task.seed)
    runner = Runner(params.task, params.trainer, params.runtime, model_dir, strategy)
    # A continuous evaluator runs beside the run that trains in model_dir:
    # it takes no lock and leaves that run's params.yaml alone.
    evaluator = mode == "continuous_eval"
    with contextlib.nullcontext() if evaluator else checkpoints.exclusive(runner.write_dir):
        # params.yaml is written only once the checkpoint is known to fit.
        runner.restore()
        if not evaluator:
            with writing("experiment settings", os.path.join(model_dir, "params.yaml")):
                train_utils.serialize_config(params, model_dir)
        start = time.time()
        results = runner.run(mode)
        results["wall_seconds"] = time.time() - start
        print(_summary(results, model_dir), file=sys.stderr, flush=True)
        return results


def _summary(results, model_dir):
    lines = [f"== done: step {results['step']} in {results['wall_seconds']:.0f}s =="]
    for section in ("train", "eval"):
        values = results.get(section) or {}
        shown = {k: v for k, v in values.items() if k in ("loss", "mlm_loss", "mlm_accuracy", "next_sentence_accuracy")}
        if shown:
            lines.append(f"{section}: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))
    lines.append(f"checkpoint: {results['checkpoint']}")
    lines.append(f"config: {os.path.join(model_dir, 'params.yaml')}")
    if results.get("export"):
        lines.append(f"exported keras-hub preset: {results['export']}")
    return "\n".join(lines)


def main(argv):
    return one_line_errors("train")(_main)(argv)


def _main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    for name in ("experiment", "mode", "model_dir"):
        if not FLAGS[name].value:
            raise ConfigurationError(f"--{name} is required.")
    known = experiment_configs.EXPERIMENTS
    if FLAGS.experiment not in known:
        raise ConfigurationError(f"unknown --experiment {FLAGS.experiment!r}; registered: {', '.join(known)}.")
    try:
        params = train_utils.parse_configuration(FLAGS, lock_return=False, print_return=False)
    except (KeyError, ValueError, TypeError, AttributeError, OSError, yaml.YAMLError) as error:
        raise _configuration_error(error) from None
    run(params, FLAGS.model_dir, FLAGS.mode)


def define_flags():
    tfm_flags.define_flags()


if __name__ == "__main__":
    define_flags()
    app.run(lambda argv: sys.exit(main(argv)))
