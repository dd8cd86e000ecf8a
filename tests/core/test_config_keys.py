"""Every Model Garden key does what it says or is refused: the table, the
refusals, and the keys implemented with it (recovery, best checkpoint,
continuous evaluation, the cluster from worker_hosts)."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_params
from official_tokendrop import train
from official_tokendrop.core import config_keys
from official_tokendrop.core.actions import TrainingDiverged
from official_tokendrop.errors import ConfigurationError


def _other(value):
    """A value other than Model Garden's default `value`."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if value is None:
        return 3
    return "x" + value


def test_the_table_holds_every_key_once(demo_data):
    params = tiny_params(demo_data)
    for name in set(config_keys.IMPLEMENTED) | set(config_keys.REFUSED):
        implemented = set(config_keys.IMPLEMENTED.get(name, {}))
        refused = set(config_keys.REFUSED.get(name, {}))
        assert not implemented & refused, name
        assert implemented | refused == set(config_keys.section(params, name).as_dict()), name
    assert set(config_keys.IMPLEMENTED) == {"task", "task.model", "task.train_data",
                                            "task.validation_data", "trainer", "runtime"}


REFUSED = [(name, key) for name, keys in config_keys.REFUSED.items() for key in keys]


@pytest.mark.parametrize("name, key", REFUSED, ids=[f"{n}.{k}" for n, k in REFUSED])
def test_a_refused_key_set_to_another_value_is_named(demo_data, name, key):
    params = tiny_params(demo_data)
    config_keys.check_supported(params)  # the defaults pass
    section = config_keys.section(params, name)
    value = _other(config_keys.REFUSED[name][key][0])
    setattr(section, key, value)
    with pytest.raises(ConfigurationError) as error:
        config_keys.check_supported(params)
    assert str(error.value).startswith(f"{name}.{key}={value!r} is not implemented by this trainer")


def test_refused_before_anything_is_written(demo_data, tmp_path):
    params = tiny_params(demo_data)
    params.override({"task": {"train_data": {"tfds_name": "wikipedia"}}})
    model_dir = tmp_path / "run"
    with pytest.raises(ConfigurationError, match=r"^task.train_data.tfds_name='wikipedia' is not implemented"):
        train.run(params, str(model_dir), "train")
    assert not model_dir.exists()


@pytest.mark.parametrize("override, message", [
    ({"recovery_max_trials": -2}, "trainer.recovery_max_trials must be an integer >= -1; got -2."),
    ({"continuous_eval_timeout": 0}, "trainer.continuous_eval_timeout must be a positive integer; got 0."),
    ({"best_checkpoint_metric_comp": "smaller"}, "trainer.best_checkpoint_metric_comp must be 'higher' or 'lower'; got 'smaller'."),
    ({"best_checkpoint_export_subdir": "best"}, "trainer.best_checkpoint_export_subdir needs trainer.best_checkpoint_eval_metric"),
    ({"best_checkpoint_export_subdir": "best", "best_checkpoint_eval_metric": "accuracy"},
     "trainer.best_checkpoint_eval_metric='accuracy' is not an evaluation metric of this model; "
     "it reports loss, mlm_loss, mlm_accuracy."),
])
def test_bad_values_of_implemented_keys(demo_data, tmp_path, override, message):
    params = tiny_params(demo_data)
    params.override({"trainer": override})
    with pytest.raises(ConfigurationError) as error:
        train.run(params, str(tmp_path / "run"), "train")
    assert str(error.value).startswith(message)
    assert not (tmp_path / "run" / "params.yaml").exists()


def test_divergence_is_undone_from_the_last_checkpoint_then_stops(demo_data, tmp_path, capsys):
    """Every loss is above a bound of 1: from step 11 on each loop ending at
    15 is undone from ckpt-10 twice (recovery_max_trials), then the run
    stops without saving."""
    params = tiny_params(demo_data, train_steps=20)
    params.override({"trainer": {"loss_upper_bound": 1.0, "recovery_begin_steps": 11,
                                 "recovery_max_trials": 2}})
    model_dir = str(tmp_path / "run")
    with pytest.raises(TrainingDiverged) as stop:
        train.run(params, model_dir, "train")
    ckpt = os.path.join(model_dir, "ckpt-10")
    err = capsys.readouterr().err
    recoveries = [line for line in err.splitlines() if "restored " + ckpt + " (recovery" in line]
    assert len(recoveries) == 2 and recoveries[1].endswith("(recovery 2 of trainer.recovery_max_trials=2)")
    assert recoveries[0].startswith("loss ") and "exceeds trainer.loss_upper_bound=1 at step 15" in recoveries[0]
    assert str(stop.value).endswith(f"at step 15; stopped without saving after 2 recoveries. "
                                    f"Last good checkpoint: {ckpt}")
    assert tf.train.latest_checkpoint(model_dir) == ckpt


def test_recovery_off_lets_any_loss_through(demo_data, tmp_path):
    params = tiny_params(demo_data, train_steps=10)
    params.override({"trainer": {"loss_upper_bound": 1.0, "recovery_max_trials": -1}})
    assert train.run(params, str(tmp_path / "run"), "train")["step"] == 10


def _eval_losses(directory):
    losses = {}
    for path in tf.io.gfile.glob(os.path.join(directory, "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "mlm_loss":
                    losses[event.step] = float(tf.make_ndarray(value.tensor))
    return losses


@pytest.mark.parametrize("comp", ["lower", "higher"])
def test_best_checkpoint_is_kept_in_its_subdir(demo_data, tmp_path, comp):
    params = tiny_params(demo_data, train_steps=20)
    params.override({"trainer": {"validation_interval": 5, "best_checkpoint_export_subdir": "best",
                                 "best_checkpoint_eval_metric": "mlm_loss",
                                 "best_checkpoint_metric_comp": comp,
                                 "validation_summary_subdir": "validation"}})
    model_dir = str(tmp_path / "run")
    train.run(params, model_dir, "train_and_eval")
    losses = _eval_losses(os.path.join(model_dir, "validation"))
    assert sorted(losses) == [5, 10, 15, 20]
    pick = min if comp == "lower" else max
    best_step = pick(losses, key=losses.get)
    info = json.load(open(os.path.join(model_dir, "best", "info.json")))
    assert info["best_ckpt_global_step"] == best_step
    assert info["mlm_loss"] == pytest.approx(losses[best_step], rel=1e-6)
    best = tf.train.latest_checkpoint(os.path.join(model_dir, "best"))
    step = tf.train.load_variable(best, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")
    assert int(step) == best_step


@pytest.fixture
def trained_copy(pretrained, tmp_path):
    model_dir, _ = pretrained
    target = str(tmp_path / "run")
    shutil.copytree(model_dir, target)
    return target


def test_continuous_eval_ends_at_train_steps(demo_data, trained_copy, capsys):
    results = train.run(tiny_params(demo_data, train_steps=20), trained_copy, "continuous_eval")
    assert results["step"] == 20 and np.isfinite(results["eval"]["mlm_loss"])
    assert "eval at step 20" in capsys.readouterr().err


def test_continuous_eval_waits_then_times_out(demo_data, trained_copy, capsys):
    params = tiny_params(demo_data, train_steps=30)
    params.override({"trainer": {"continuous_eval_timeout": 1}})
    results = train.run(params, trained_copy, "continuous_eval")
    assert results["step"] == 20
    err = capsys.readouterr().err
    assert (f"no new checkpoint in {trained_copy} for trainer.continuous_eval_timeout=1s; "
            "stopped at step 20") in err


def test_worker_hosts_name_the_cluster(monkeypatch):
    from official_tokendrop.core.experiment_configs import experiment

    runtime = experiment("token_drop_bert/demo").runtime
    runtime.worker_hosts = "127.0.0.1:1,127.0.0.1:2"
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigurationError, match="task_index"):
        train.strategy_for(runtime)
    assert "TF_CONFIG" not in os.environ
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:3"]}}))
    with pytest.raises(ConfigurationError, match="both name a cluster; set one"):
        train.strategy_for(runtime)
