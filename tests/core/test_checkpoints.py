"""Faults and bad input in the trainer: nothing lost, nothing silent."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import checkpoint_state, tiny_params
from official_tokendrop import train
from official_tokendrop.core import checkpoints
from official_tokendrop.core.checkpoints import CheckpointMismatch


@pytest.fixture(scope="module")
def trained_dir(pretrained):
    """The session's 20-step model_dir, with ckpt-10 and ckpt-20 (read-only
    to the tests: copy it)."""
    model_dir, _ = pretrained
    assert [os.path.basename(p) for p in checkpoints.candidates(model_dir)] == ["ckpt-20", "ckpt-10"]
    return model_dir


def _copy(trained_dir, tmp_path):
    target = str(tmp_path / "run")
    shutil.copytree(trained_dir, target)
    return target


def _files(model_dir, step):
    return sorted(tf.io.gfile.glob(os.path.join(model_dir, f"ckpt-{step}.*")))


def test_lost_checkpoint_index_resumes_instead_of_restarting(demo_data, trained_dir, tmp_path, capsys):
    model_dir = _copy(trained_dir, tmp_path)
    kept = {path: open(path, "rb").read() for step in (10, 20) for path in _files(model_dir, step)}
    os.remove(os.path.join(model_dir, "checkpoint"))
    results = train.run(tiny_params(demo_data, train_steps=30), model_dir, "train")
    err = capsys.readouterr().err
    assert f"restored {os.path.join(model_dir, 'ckpt-20')} at step 20" in err
    assert "WARNING: resuming from" in err and "the checkpoint index named nothing" in err
    assert results["step"] == 30
    for path, content in kept.items():  # ckpt-10 and ckpt-20 untouched
        assert open(path, "rb").read() == content


def test_truncated_newest_checkpoint_falls_back_with_a_warning(demo_data, trained_dir, tmp_path, capsys):
    model_dir = _copy(trained_dir, tmp_path)
    (data,) = [p for p in _files(model_dir, 20) if ".data-" in p]
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    results = train.run(tiny_params(demo_data, train_steps=30), model_dir, "train")
    err = capsys.readouterr().err
    bad = os.path.join(model_dir, "ckpt-20")
    assert f"WARNING: checkpoint {bad} is unreadable" in err
    assert f"restored {os.path.join(model_dir, 'ckpt-10')} at step 10" in err
    assert results["step"] == 30
    # Every checkpoint unreadable: one error naming them, nothing trained.
    for step in (10, 20, 30):
        for path in _files(model_dir, step):
            if ".data-" in path:
                with open(path, "r+b") as f:
                    f.truncate(8)
    with pytest.raises(ValueError, match=r"every checkpoint in .* is unreadable: .*ckpt-30, .*ckpt-20, .*ckpt-10"):
        train.run(tiny_params(demo_data, train_steps=40), model_dir, "train")


def test_other_architecture_is_refused_before_params_yaml_is_written(demo_data, trained_dir, tmp_path):
    model_dir = _copy(trained_dir, tmp_path)
    params_yaml = os.path.join(model_dir, "params.yaml")
    before = open(params_yaml).read()
    for layers in (4, 5):
        params = tiny_params(demo_data, train_steps=30)
        params.override({"task": {"model": {"encoder": {"any": {"num_layers": layers}}}}}, is_strict=True)
        with pytest.raises(CheckpointMismatch, match=r"ckpt-20 does not match the configured model"):
            train.run(params, model_dir, "train")
        assert open(params_yaml).read() == before
    # A wider model: other shapes, same refusal.
    params = tiny_params(demo_data, train_steps=30)
    params.override({"task": {"model": {"encoder": {"any": {"hidden_size": 64, "intermediate_size": 128}}}}},
                    is_strict=True)
    with pytest.raises(CheckpointMismatch, match="does not match the configured model"):
        train.run(params, model_dir, "train")
    assert open(params_yaml).read() == before


@pytest.mark.parametrize("value", [-5, 0, "abc"])
def test_bad_train_steps_are_refused_before_anything_is_written(demo_data, tmp_path, value):
    params = tiny_params(demo_data)
    params.override({"trainer": {"train_steps": value}})
    with pytest.raises(ValueError, match=rf"trainer.train_steps must be a positive integer; got {value!r}"):
        train.run(params, str(tmp_path / "run"), "train")
    assert not os.path.exists(tmp_path / "run")


def test_one_run_per_model_dir(demo_data, trained_dir, tmp_path):
    model_dir = _copy(trained_dir, tmp_path)
    with checkpoints.exclusive(model_dir):
        with pytest.raises(RuntimeError, match=rf"{model_dir} is in use by another training run \(pid {os.getpid()}\)"):
            train.run(tiny_params(demo_data, train_steps=30), model_dir, "train")
    # Released: the next run goes ahead (a crashed run's lock dies with it).
    assert train.run(tiny_params(demo_data, train_steps=25), model_dir, "train")["step"] == 25


def test_too_little_data_is_refused_before_training(demo_data, tmp_path):
    params = tiny_params(demo_data)
    params.override({"task": {"validation_data": {"global_batch_size": 100_000}}})
    with pytest.raises(ValueError, match=r"task.validation_data .* holds \d+ examples, fewer than its "
                                         r"global_batch_size 100000"):
        train.run(params, str(tmp_path / "run"), "train_and_eval")
    assert not checkpoints.candidates(str(tmp_path / "run"))  # refused before a step was trained
    params = tiny_params(demo_data)
    params.override({"task": {"train_data": {"global_batch_size": 100_000}}})
    with pytest.raises(ValueError, match=r"task.train_data .* fewer than its global_batch_size 100000"):
        train.run(params, str(tmp_path / "run2"), "train")


def test_truncated_tfrecord_is_named(demo_data, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    files = sorted(tf.io.gfile.glob(demo_data.train_pattern))
    for path in files:
        shutil.copy(path, data)
    broken = data / os.path.basename(files[-1])
    broken.write_bytes(broken.read_bytes()[: os.path.getsize(broken) * 2 // 3])
    params = tiny_params(demo_data, train_steps=400)
    params.override({"task": {"train_data": {"input_path": str(data / "*")}}})
    with pytest.raises(ValueError, match=rf"{broken} is corrupt \(truncated or damaged TFRecord\)"):
        train.run(params, str(tmp_path / "run"), "train")


@pytest.mark.slow
def test_resumed_run_equals_the_uninterrupted_one(demo_data, tmp_path):
    """Stopped at step 10 and resumed to 20: the same weights, importance
    table, optimizer slots, random states and loss as a run straight to 20,
    with dropout and random keep on."""
    def params(steps):
        p = tiny_params(demo_data, train_steps=steps, xla=True)
        p.override({"task": {"seed": 7, "model": {"encoder": {"any": {
            "dropout_rate": 0.1, "attention_dropout_rate": 0.1, "token_keep_k": 12,
            "token_random_keep_k": 4}}}}})
        return p

    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    expected = train.run(params(20), straight, "train")["train"]
    assert train.run(params(10), resumed, "train")["step"] == 10
    assert checkpoints.resume_state_keys(os.path.join(resumed, "ckpt-10")) == {"data", "random"}
    got = train.run(params(20), resumed, "train")["train"]
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-5)
    a, b = checkpoint_state(straight, 20), checkpoint_state(resumed, 20)
    assert sorted(a) == sorted(b)
    randoms = [n for n in a if n.startswith("resume/random/")]
    assert len(randoms) > 3 and any("importance" in n for n in a)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], atol=1e-5, err_msg=name)
    # The random states moved on: restoring them is what kept the runs equal.
    assert any(not np.array_equal(a[n], checkpoint_state(resumed, 10)[n]) for n in randoms)


def test_checkpoint_without_resume_state_still_resumes(demo_data, trained_dir, tmp_path, capsys):
    """A checkpoint written before the resume state existed: it loads, and
    the data reshuffles from its step, with a warning saying so."""
    from conftest import runner

    model_dir = _copy(trained_dir, tmp_path)
    trainer = runner(tiny_params(demo_data), model_dir)
    assert trainer.restore() == os.path.join(model_dir, "ckpt-20")
    for path in _files(model_dir, 20) + _files(model_dir, 10):
        os.remove(path)
    old = tf.train.Checkpoint(model=trainer.model, optimizer=trainer.trainable.optimizer)
    tf.train.CheckpointManager(old, model_dir, max_to_keep=5).save(checkpoint_number=20)
    assert checkpoints.resume_state_keys(os.path.join(model_dir, "ckpt-20")) == set()
    results = train.run(tiny_params(demo_data, train_steps=30), model_dir, "train")
    err = capsys.readouterr().err
    assert f"restored {os.path.join(model_dir, 'ckpt-20')} at step 20" in err
    assert "holds no input position or random state" in err
    assert results["step"] == 30


@pytest.mark.slow
def test_resume_without_random_states_is_exact_too(demo_data, tmp_path, capsys):
    """No dropout and no random keep: nothing random to save; the input
    position alone resumes the run, with no warning."""
    def params(steps):
        p = tiny_params(demo_data, train_steps=steps)
        p.override({"task": {"seed": 3, "model": {"encoder": {"any": {
            "dropout_rate": 0.0, "attention_dropout_rate": 0.0}}}}})
        return p

    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    train.run(params(20), straight, "train")
    train.run(params(10), resumed, "train")
    assert checkpoints.resume_state_keys(os.path.join(resumed, "ckpt-10")) == {"data"}
    capsys.readouterr()
    train.run(params(20), resumed, "train")
    assert "holds no input position" not in capsys.readouterr().err
    a, b = checkpoint_state(straight, 20), checkpoint_state(resumed, 20)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], atol=1e-5, err_msg=name)


# === A checkpoint that cannot be written ===
def _restored(demo_data, model_dir):
    """(checkpoint, step, weights) that a rerun in `model_dir` restores."""
    from conftest import runner

    trainer = runner(tiny_params(demo_data), model_dir)
    path = trainer.restore()
    return path, trainer.step, [w.numpy() for w in trainer.model.weights]


@pytest.fixture(scope="module")
def step_20(demo_data, trained_dir, tmp_path_factory):
    """What `trained_dir` restores: ckpt-20, step 20 and its weights."""
    return _restored(demo_data, _copy(trained_dir, tmp_path_factory.mktemp("step_20")))


def _run_to_30(demo_data, model_dir, capsys):
    """Trains `model_dir` on to step 30 as the train program; returns its last stderr line."""
    from official_tokendrop.cli import one_line_errors

    capsys.readouterr()
    status = one_line_errors("train")(lambda argv: train.run(tiny_params(demo_data, train_steps=30),
                                                            model_dir, "train"))([])
    assert status == 1
    return capsys.readouterr().err.strip().splitlines()[-1]


def _assert_restores(demo_data, model_dir, expected, capsys):
    path, step, weights = _restored(demo_data, model_dir)
    assert (os.path.basename(path), step) == (os.path.basename(expected[0]), expected[1])
    for got, want in zip(weights, expected[2], strict=True):
        np.testing.assert_array_equal(got, want)
    return capsys.readouterr().err


def test_checkpoint_without_space_ends_in_one_line_and_the_previous_one_restores(
        demo_data, trained_dir, step_20, tmp_path, monkeypatch, capsys):
    """Simulated (runs everywhere): TensorFlow's save runs out of space
    after renaming its data file and starting the index, the worst moment."""
    model_dir = _copy(trained_dir, tmp_path)
    kept = {path: open(path, "rb").read() for step in (10, 20) for path in _files(model_dir, step)}
    write = tf.train.Checkpoint._write

    def out_of_space(self, prefix, options=None):
        if not prefix.endswith("ckpt-30"):
            return write(self, prefix, options=options)
        for suffix in (".data-00000-of-00001", ".index"):
            with open(prefix + suffix, "wb") as f:
                f.write(b"\0" * 100)
        os.makedirs(prefix + "_temp")
        raise tf.errors.ResourceExhaustedError(None, None, f"{prefix}_temp/part-00000-of-00001.data-00000-of-"
                                               "00001.tempstate1; No space left on device [Op:SaveV2]")

    monkeypatch.setattr(tf.train.Checkpoint, "_write", out_of_space)
    line = _run_to_30(demo_data, model_dir, capsys)
    assert line == (f"train: error: could not write checkpoint {model_dir}/ckpt-30: No space left on device; "
                    f"its partial files were removed: a rerun resumes from {model_dir}/ckpt-20")
    assert not tf.io.gfile.glob(os.path.join(model_dir, "ckpt-30*"))
    assert tf.train.latest_checkpoint(model_dir) == os.path.join(model_dir, "ckpt-20")
    assert {path: open(path, "rb").read() for path in kept} == kept
    monkeypatch.undo()
    assert "WARNING" not in _assert_restores(demo_data, model_dir, step_20, capsys)


def test_checkpoint_whose_index_cannot_be_updated_is_kept(demo_data, trained_dir, tmp_path, monkeypatch, capsys):
    """Simulated: the files of ckpt-30 are whole, only the `checkpoint`
    index could not be rewritten; ckpt-30 is complete, so it stays and a
    rerun resumes from it."""
    model_dir = _copy(trained_dir, tmp_path)
    record = checkpoints.IntervalCheckpointManager._record_state

    def refused(self):
        if self.latest_checkpoint.endswith("ckpt-30"):
            raise tf.errors.PermissionDeniedError(None, None, f"{model_dir}/checkpoint.tmp1; Permission denied")
        record(self)

    monkeypatch.setattr(checkpoints.IntervalCheckpointManager, "_record_state", refused)
    line = _run_to_30(demo_data, model_dir, capsys)
    assert line == (f"train: error: could not write checkpoint {model_dir}/ckpt-30: Permission denied; its files "
                    "are complete (only the checkpoint index was not updated): a rerun resumes from it")
    assert tf.train.latest_checkpoint(model_dir) == os.path.join(model_dir, "ckpt-20")
    monkeypatch.undo()
    trainer_path, step, _ = _restored(demo_data, model_dir)
    assert (trainer_path, step) == (os.path.join(model_dir, "ckpt-30"), 30)


def test_checkpoint_on_a_full_disk(demo_data, trained_dir, step_20, small_disk, capsys):
    """A real full disk (a tmpfs with room for everything but ckpt-30)."""
    disk = small_disk.mount("8m")
    model_dir = str(disk / "run")
    shutil.copytree(trained_dir, model_dir)
    small_disk.fill(disk, leave=256 << 10)  # params.yaml and summaries fit, a checkpoint (1.2 MB) does not
    line = _run_to_30(demo_data, model_dir, capsys)
    assert line == (f"train: error: could not write checkpoint {model_dir}/ckpt-30: No space left on device; "
                    f"its partial files were removed: a rerun resumes from {model_dir}/ckpt-20")
    assert not tf.io.gfile.glob(os.path.join(model_dir, "ckpt-30*"))
    assert tf.train.latest_checkpoint(model_dir) == os.path.join(model_dir, "ckpt-20")
    os.remove(disk / "filler")
    assert "WARNING" not in _assert_restores(demo_data, model_dir, step_20, capsys)


def test_summaries_and_eval_results_on_a_read_only_disk(small_disk):
    """Summaries and evaluation results that cannot be written end the run
    with one line (a full disk does not: TensorFlow's event writer drops
    events silently, and the next checkpoint save reports it)."""
    from official_tokendrop.core import actions
    from official_tokendrop.errors import OutputWriteError

    disk = small_disk.mount("64k")
    small_disk.read_only(disk)
    step = tf.Variable(10, dtype=tf.int64)
    with pytest.raises(OutputWriteError) as raised:
        actions.Summaries(str(disk / "eval"), tf.summary.scalar, step).summary_writer()
    assert str(raised.value) == f"could not write summaries {disk / 'eval'}: Read-only file system"
    with pytest.raises(OutputWriteError) as raised:
        actions.EvalResultsWriter(step, str(disk))({"loss": 1.0})
    assert str(raised.value) == f"could not write evaluation results {disk / 'eval_results.json'}: Read-only file system"


def test_params_yaml_that_cannot_be_written_is_one_line(demo_data, trained_dir, tmp_path, monkeypatch):
    from official_tokendrop.errors import OutputWriteError

    model_dir = _copy(trained_dir, tmp_path)

    def refused(params, directory):
        raise tf.errors.PermissionDeniedError(None, None, f"{directory}/params.yaml; Permission denied")

    monkeypatch.setattr(train.train_utils, "serialize_config", refused)
    with pytest.raises(OutputWriteError) as raised:
        train.run(tiny_params(demo_data, train_steps=30), model_dir, "train")
    assert str(raised.value) == f"could not write experiment settings {model_dir}/params.yaml: Permission denied"
    assert checkpoints.candidates(model_dir)[0].endswith("ckpt-20")  # nothing trained
