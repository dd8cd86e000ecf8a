"""Shared fixtures. Two logical CPUs are set up before TensorFlow starts so
multi-replica tests can run in the same process as the others."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Grappler's graph rewrites cost a tiny trainer run ~3 s of its ~11 (its
# training loop is one large graph) and change nothing a test checks: runs
# are compared with runs of the same settings, XLA paths bypass it, and
# the programs (train, finetune) keep it on.
tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu,
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)

from official_tokendrop.utils import synthetic  # noqa: E402
from official_tokendrop.models import TokenDropBertEncoder  # noqa: E402

VOCAB = 64
SEQ = 16
PREDICTIONS = 4
# Special ids in this tiny vocabulary: 0 pad, 1..4 [UNK] [CLS] [SEP] [MASK].
ALLOW = (1, 2, 3, 4)
DENY = (0,)

TINY = dict(
    vocab_size=VOCAB,
    hidden_size=16,
    num_layers=4,
    num_attention_heads=2,
    inner_dim=32,
    max_sequence_length=SEQ,
    type_vocab_size=2,
    output_dropout=0.0,
    attention_dropout=0.0,
    token_keep_k=6,
    token_allow_list=ALLOW,
    token_deny_list=DENY,
)


def tiny_encoder(**overrides):
    return TokenDropBertEncoder(**{**TINY, **overrides})


def batch(batch_size=4, seed=0, **kwargs):
    return synthetic.pretraining_batch(
        batch_size, SEQ, PREDICTIONS, VOCAB, seed=seed, **kwargs
    )


def encoder_inputs(features):
    return {
        k: features[k] for k in ("input_word_ids", "input_mask", "input_type_ids")
    }


@pytest.fixture(scope="session")
def two_replicas():
    """One MirroredStrategy over the 2 logical CPUs for the whole session.

    Strategies over the same devices in one process restart collective
    instance keys, so a second one can collide with the first's ops.
    """
    devices = [d.name for d in tf.config.list_logical_devices("CPU")[:2]]
    strategy = tf.distribute.MirroredStrategy(devices)
    assert strategy.num_replicas_in_sync == 2
    return strategy


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(1234)
    np.random.seed(1234)


@pytest.fixture(scope="session")
def sample_text(tmp_path_factory):
    """~300 KB of docstring prose from this machine: the real sample corpus."""
    from official_tokendrop.data.sample_corpus import write_sample_corpus

    path = tmp_path_factory.mktemp("corpus") / "sample.txt"
    write_sample_corpus(str(path), max_bytes=300_000)
    return str(path)


@pytest.fixture(scope="session")
def sample_vocab(sample_text, tmp_path_factory):
    """A 2000-token WordPiece vocabulary learned from `sample_text`."""
    from official_tokendrop.data.vocabulary import build_vocabulary

    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    return build_vocabulary([sample_text], 2000, str(path))


# === Tiny trainer experiments on the sample corpus ===
DEMO_SEQ, DEMO_PRED = 32, 5


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    from official_tokendrop.data.sample_dataset import prepare_sample_dataset

    directory = str(tmp_path_factory.mktemp("demo_data"))
    return prepare_sample_dataset(directory, DEMO_SEQ, DEMO_PRED, 2000, max_bytes=150_000)


def tiny_overrides(data, train_steps=20, xla=False):
    # XLA compiling costs more than a tiny run's steps; the tests that pass
    # xla=True keep the compiled paths (one replica: the whole step;
    # several: each replica's forward/backward) covered.
    return {
        "runtime": {"enable_xla": xla},
        "task": {
            "sample_data": False,
            "export": False,
            "vocab_file": data.vocab_file,
            "model": {"encoder": {"any": {
                "hidden_size": 32, "num_layers": 3, "num_attention_heads": 2,
                "intermediate_size": 64, "max_position_embeddings": DEMO_SEQ, "token_keep_k": 16,
            }}},
            "train_data": {"input_path": data.train_pattern, "global_batch_size": 8,
                           "seq_length": DEMO_SEQ, "max_predictions_per_seq": DEMO_PRED},
            "validation_data": {"input_path": data.validation_pattern, "global_batch_size": 8,
                                "seq_length": DEMO_SEQ, "max_predictions_per_seq": DEMO_PRED},
        },
        "trainer": {
            "train_steps": train_steps, "checkpoint_interval": 10, "steps_per_loop": 5,
            "summary_interval": 5, "validation_interval": 20, "validation_steps": 2,
            "max_to_keep": 5,
        },
    }


def tiny_params(data, **kwargs):
    from official_tokendrop.core import experiment_configs

    return experiment_configs.experiment("token_drop_bert/demo", tiny_overrides(data, **kwargs))


def runner(params, model_dir, strategy=None):
    """The run of `params` in `model_dir`, built as `train.run` builds it."""
    from official_tokendrop.core.runner import Runner

    return Runner(params.task, params.trainer, params.runtime, model_dir,
                  strategy or tf.distribute.get_strategy())


def checkpoint_state(model_dir, step):
    """Every weight, optimizer slot and random state of `model_dir`'s ckpt-`step`."""
    reader = tf.train.load_checkpoint(os.path.join(model_dir, f"ckpt-{step}"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("model/", "optimizer/", "resume/random/"))}


@pytest.fixture(scope="session")
def pretrained(demo_data, tmp_path_factory):
    """A model_dir trained 20 steps on the demo data, and its params."""
    from official_tokendrop import train

    model_dir = str(tmp_path_factory.mktemp("pretrain"))
    params = tiny_params(demo_data, train_steps=20)
    train.run(params, model_dir, "train")
    return model_dir, params


@pytest.fixture(scope="session")
def exported(pretrained, tmp_path_factory):
    """(keras-hub preset, the restored pretrainer, one validation batch)."""
    from official_tokendrop.export import export
    from official_tokendrop.core.pretrainers import restore_pretrainer
    from official_tokendrop.core.task import PretrainingTask

    model_dir, params = pretrained
    preset = str(tmp_path_factory.mktemp("preset"))
    export(model_dir, preset)
    pretrainer = restore_pretrainer(model_dir)[0]
    batch = next(iter(PretrainingTask(params.task).build_inputs("validation")))
    return preset, pretrainer, {k: v.numpy() for k, v in batch.items()}


# === Programs ===
def run_program(module, *args):
    """`python -m module args` run in this process (no interpreter and
    TensorFlow start-up, ~5 s each); returns its exit status. The module's
    flags are defined as its `__main__` block defines them and removed
    afterwards, so the next program starts from the flags it defines."""
    import logging
    import runpy
    import sys
    import warnings
    from unittest import mock

    from absl import flags
    from absl import logging as absl_logging

    before = set(flags.FLAGS)
    # absl's app.run binds its handler to the root logger and programs set
    # absl's verbosity: both are put back for the tests that follow.
    handlers, level, verbosity = list(logging.root.handlers), logging.root.level, absl_logging.get_verbosity()
    try:
        with mock.patch.object(sys, "argv", [module, *args]), warnings.catch_warnings():
            # The module is imported already (by the tests); running it
            # again as __main__ is what `python -m` does.
            warnings.filterwarnings("ignore", "'.*' found in sys.modules", RuntimeWarning)
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as exit:
        return exit.code
    finally:
        for name in set(flags.FLAGS) - before:
            delattr(flags.FLAGS, name)
        flags.FLAGS.unparse_flags()
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)
        absl_logging.set_verbosity(verbosity)


# === Write failures ===
@pytest.fixture
def small_disk(tmp_path):
    """`.mount(size)`: a fresh tmpfs of `size` (e.g. "8m") under tmp_path,
    unmounted after the test; `.fill(path, leave)` fills it up to `leave`
    free bytes; `.read_only(path)` remounts it read-only. Needs root and
    `mount` (the test is skipped otherwise); the tests that simulate the
    same errors run everywhere."""
    import shutil
    import subprocess
    import types

    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root and `mount`; the simulated write failures cover this")
    mounted = []

    def mount(size):
        path = tmp_path / f"disk{len(mounted)}"
        path.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                capture_output=True, text=True)
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(path)
        return path

    def fill(path, leave=0):
        with open(os.path.join(path, "filler"), "wb") as f:
            try:
                f.write(b"\0" * max(0, shutil.disk_usage(path).free - leave))
            except OSError:  # a full disk is what was wanted
                pass

    def read_only(path):
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)

    yield types.SimpleNamespace(mount=mount, fill=fill, read_only=read_only)
    for path in mounted:
        subprocess.run(["umount", "--lazy", str(path)], check=True)
