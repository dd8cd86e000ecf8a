"""The trainer end to end: configs, checkpoints and resume, crash, replicas, errors."""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from official.core import exp_factory
from official.modeling import hyperparams

from official_tokendrop.core import experiment_configs  # noqa: F401
from official_tokendrop import train
from official_tokendrop.models.flops import step_flops
from official_tokendrop.core.actions import TrainingDiverged

from conftest import run_program, runner, tiny_overrides, tiny_params
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _flags_yaml(tmp_path, data, name="tiny.yaml", **kwargs):
    path = tmp_path / name
    hyperparams.save_params_dict_to_yaml(hyperparams.ParamsDict(tiny_overrides(data, **kwargs)), str(path))
    return str(path)


@pytest.mark.slow
def test_train_eval_checkpoint_then_resume(demo_data, tmp_path, capsys):
    model_dir = str(tmp_path)
    params = tiny_params(demo_data)
    first = train.run(params, model_dir, "train_and_eval")
    assert first["step"] == 20
    # Progress lines carry the elapsed time and an estimate of the time left;
    # the summary the run's FLOPs (FLOP model, by hand from the config).
    err = capsys.readouterr().err
    assert re.search(r"^step 20/20 \| .* \| kept 0\.\d+ \| elapsed \d+s \| ETA 0s$", err, re.M), err
    e, data = params.task.model.encoder.any, params.task.train_data
    per_step = step_flops(e.hidden_size, e.num_layers, e.intermediate_size, data.seq_length, e.vocab_size,
                          data.max_predictions_per_seq, data.global_batch_size,
                          keep_k=e.token_keep_k).training_step
    assert first["train"]["total_flops"] == first["train"]["train_flops"] == 20 * per_step
    assert f"the model_dir's 20 steps: {20 * per_step:.3g} FLOPs" in err
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-20")
    names = dict(tf.train.list_variables(model_dir))
    assert "model/encoder/token_importance/table/.ATTRIBUTES/VARIABLE_VALUE" in names
    assert os.path.exists(os.path.join(model_dir, "params.yaml"))
    assert os.path.exists(os.path.join(model_dir, "eval_results.json"))
    assert tf.io.gfile.glob(os.path.join(model_dir, "train", "events.*"))
    saved_table = tf.train.load_variable(
        model_dir, "model/encoder/token_importance/table/.ATTRIBUTES/VARIABLE_VALUE"
    )
    assert (saved_table[5:] != 10.0).any()

    params = tiny_params(demo_data, train_steps=30)
    resumed = runner(params, model_dir)
    resumed.restore()
    assert resumed.step == 20
    assert int(resumed.trainable.optimizer.iterations.numpy()) == 20
    np.testing.assert_array_equal(resumed.model.encoder.token_importance.table.numpy(), saved_table)
    resumed.train()
    assert resumed.step == 30

    # A finished model_dir: nothing to do.
    again = train.run(tiny_params(demo_data, train_steps=30), model_dir, "train")
    assert again["step"] == 30 and again["train"] == {}
    evaluated = train.run(tiny_params(demo_data, train_steps=30), model_dir, "eval")
    assert evaluated["eval"]["step"] == 30 and np.isfinite(evaluated["eval"]["mlm_loss"])

    # A second train() on the same trainer reuses the traced loop.
    params.trainer.train_steps = 35
    resumed.train()
    assert resumed.step == 35
    assert resumed.trainable.train_loop_tracing_count() == 1


@pytest.mark.slow
def test_mirrored_two_replicas_run_the_experiment(demo_data, tmp_path, two_replicas):
    results = train.run(tiny_params(demo_data, train_steps=10, xla=True), str(tmp_path), "train_and_eval",
                        two_replicas)
    assert results["step"] == 10
    assert results["eval"]["step"] == 10 and np.isfinite(results["eval"]["mlm_loss"])
    table = tf.train.load_variable(
        str(tmp_path), "model/encoder/token_importance/table/.ATTRIBUTES/VARIABLE_VALUE"
    )
    assert (table[5:] != 10.0).any()


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_good_checkpoint(demo_data, tmp_path):
    params = tiny_params(demo_data)
    train.run(params, str(tmp_path), "train")  # a good checkpoint at step 20
    params = tiny_params(demo_data, train_steps=40)
    params.override({"trainer": {"optimizer_config": {"learning_rate": {"polynomial": {"initial_learning_rate": 1e12}}}}})
    with pytest.raises(TrainingDiverged, match=r"at step 2\d.*Last good checkpoint: .*ckpt-20"):
        train.run(params, str(tmp_path), "train")
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-20")


@pytest.mark.parametrize(
    "override, message",
    [
        ({"task": {"model": {"encoder": {"any": {"token_keep_k": 40}}}}}, "exceeds task.train_data.seq_length"),
        ({"task": {"train_data": {"seq_length": 16}, "validation_data": {"seq_length": 16}}}, "expects 16"),
        ({"task": {"train_data": {"use_v2_feature_names": False}}}, "lacks features"),
        ({"task": {"model": {"encoder": {"any": {"token_allow_list": [100, 101, 102, 103]}}}}}, r"does not match the special-token ids .* \(1, 2, 3, 4\)"),
        ({"task": {"train_data": {"input_path": "/nonexistent/*.tfrecord"}}}, "matches no file"),
    ],
)
def test_bad_configuration_is_reported(demo_data, tmp_path, override, message):
    params = tiny_params(demo_data)
    params.override(override, is_strict=True)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        train.run(params, str(tmp_path), "train")


def _cli(capsys, *args):
    """The train program's status and stderr (run in process)."""
    status = run_program("official_tokendrop.train", *args)
    return status, capsys.readouterr().err


def test_cli_errors_are_one_line(demo_data, tmp_path, capsys):
    config = _flags_yaml(tmp_path, demo_data)
    cases = [
        (["--experiment=token_drop_bert/nope"], "unknown --experiment 'token_drop_bert/nope'"),
        (["--experiment=token_drop_bert/demo", f"--config_file={config}",
          "--params_override=task.model.encoder.any.token_kep_k=3"], "'token_kep_k' does not exist"),
        (["--experiment=token_drop_bert/demo", f"--config_file={config}",
          "--params_override=task.train_data.input_path=/none/*.tfrecord"], "matches no file"),
    ]
    for args, message in cases:
        status, err = _cli(capsys, *args, "--mode=train", f"--model_dir={tmp_path}/run")
        assert status == 1, err
        assert message in err and "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith("train: error:")
    # A path below a plain file cannot be created, even by root.
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    status, err = _cli(capsys, "--experiment=token_drop_bert/demo", f"--config_file={config}",
                       "--mode=train", f"--model_dir={blocker}/run")
    assert status == 1 and "is not writable" in err
    assert "Traceback" not in err


def test_config_files_and_overrides_apply_in_order(demo_data, tmp_path):
    flags = argparse.Namespace(
        experiment="token_drop_bert/pretraining",
        config_file=[
            "experiments/configs/bert_base_token_drop.yaml",
            "experiments/configs/wiki_books_pretrain_sequence_pack.yaml",
            _flags_yaml(tmp_path, demo_data),
        ],
        params_override="trainer.train_steps=7,task.model.encoder.any.token_keep_k=12",
        tpu=None,
        tf_data_service=None,
    )

    from official.core import train_utils

    params = train_utils.parse_configuration(flags, lock_return=False, print_return=False)
    assert params.trainer.train_steps == 7  # override beats the files
    assert params.task.model.encoder.any.token_keep_k == 12
    assert params.task.model.encoder.any.hidden_size == 32  # third file beats the first
    assert params.trainer.optimizer_config.warmup.polynomial.warmup_steps == 10000  # second file
    assert params.task.model.encoder.any.token_allow_list == (100, 101, 102, 103)  # first file


def test_paper_yaml_round_trips_through_params_yaml(tmp_path):
    params = exp_factory.get_exp_config("token_drop_bert/pretraining")
    for name in ("bert_base_token_drop.yaml", "wiki_books_pretrain_sequence_pack.yaml"):
        params = hyperparams.override_params_dict(params, f"experiments/configs/{name}", is_strict=True)
    path = str(tmp_path / "params.yaml")
    hyperparams.save_params_dict_to_yaml(params, path)
    reloaded = hyperparams.override_params_dict(
        exp_factory.get_exp_config("token_drop_bert/pretraining"), path, is_strict=True
    )
    assert reloaded.as_dict() == params.as_dict()
    assert reloaded.task.model.encoder.any.token_allow_list == (100, 101, 102, 103)
    assert reloaded.trainer.optimizer_config.learning_rate.polynomial.decay_steps == 1_000_000


@pytest.mark.slow
def test_killed_run_resumes_from_last_checkpoint(demo_data, tmp_path):
    config = _flags_yaml(tmp_path, demo_data, train_steps=200)
    model_dir = tmp_path / "run"
    args = [sys.executable, "-m", "official_tokendrop.train", "--experiment=token_drop_bert/demo",
            f"--config_file={config}", "--mode=train", f"--model_dir={model_dir}"]
    process = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not tf.io.gfile.glob(str(model_dir / "ckpt-20.index")):
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    latest = tf.train.latest_checkpoint(str(model_dir))
    assert latest is not None, process.stderr.read()
    killed_at = int(latest.rsplit("-", 1)[1])
    assert 10 <= killed_at < 200
    tf.train.list_variables(latest)  # loadable
    result = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"restored {latest} at step {killed_at}" in result.stderr
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-200")


@pytest.mark.slow
def test_files_without_masks_train_with_dynamic_masking(demo_data, tmp_path):
    """Files converted with --dynamic_masking: refused (one message naming
    the key) unless task.train_data.dynamic_masking masks them at read time."""
    from conftest import DEMO_PRED, DEMO_SEQ
    from official_tokendrop.data import create_pretraining_data as cpd

    text = os.path.join(os.path.dirname(demo_data.vocab_file), "train.txt")
    options = cpd.ConversionOptions(seq_length=DEMO_SEQ, max_predictions_per_seq=DEMO_PRED, dynamic_masking=True)
    assert cpd.convert([text], demo_data.vocab_file, str(tmp_path / "data"), options)["predictions"] == 0
    def params(dynamic):
        p = tiny_params(demo_data, train_steps=10)
        p.override({"task": {"train_data": {"input_path": str(tmp_path / "data" / "*.tfrecord"),
                                            "dynamic_masking": dynamic}}})
        return p

    with pytest.raises(ValueError, match=r"task.train_data: .*\.tfrecord holds no masks \(converted with "
                                         r"--dynamic_masking\); set task.train_data.dynamic_masking=true"):
        train.run(params(False), str(tmp_path / "refused"), "train")
    from official_tokendrop.data.vocabulary import load_vocabulary
    from official_tokendrop.core.task import PretrainingTask

    dynamic = params(True)
    batch = next(iter(PretrainingTask(dynamic.task).build_inputs("train", seed=0)))
    weights = batch["masked_lm_weights"].numpy()
    assert weights.shape == (8, DEMO_PRED) and weights.sum() >= 8  # every sequence has a prediction
    ids = np.take_along_axis(batch["input_word_ids"].numpy(), batch["masked_lm_positions"].numpy(), axis=1)
    mask_id = load_vocabulary(demo_data.vocab_file).id("[MASK]")
    assert (ids[weights > 0] == mask_id).mean() >= 0.5  # 80% become [MASK]
    results = train.run(dynamic, str(tmp_path / "dynamic"), "train")
    assert results["step"] == 10 and np.isfinite(results["train"]["loss"])


def test_runs_of_two_precisions_keep_their_own_dtype_and_the_global_policy(demo_data, tmp_path):
    """Each run's precision is its model's own dtype policy: building one
    sets no global state, so two precisions live in one process."""
    import keras

    from conftest import runner

    assert keras.config.dtype_policy().name == "float32"
    built = {}
    for precision in ("bfloat16", "float32"):
        params = tiny_params(demo_data)
        params.override({"runtime": {"mixed_precision_dtype": precision}})
        built[precision] = runner(params, str(tmp_path / precision))
    assert keras.config.dtype_policy().name == "float32"
    for precision, run in built.items():
        for layer in (run.model.encoder, run.model.masked_lm_head):
            assert layer.compute_dtype == precision, (precision, layer.name)
    # The variables stay float32 under mixed precision.
    assert {w.dtype for w in built["bfloat16"].model.encoder.weights} == {"float32"}
