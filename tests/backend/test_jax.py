"""The pretrainer trains the same on the JAX backend as on TensorFlow."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import pretrainer_steps

pytestmark = pytest.mark.slow  # subprocesses


@pytest.fixture(scope="module")
def both_backends(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backends")
    weights = str(folder / "initial.weights.h5")
    model, _ = pretrainer_steps.build()
    model.save_weights(weights)
    initial = [np.asarray(v.numpy()) for v in model.weights]
    paths = [v.path for v in model.weights]
    tensorflow = pretrainer_steps.run(weights)
    out = str(folder / "jax.npz")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, pretrainer_steps.__file__, weights, out],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return initial, paths, tensorflow, dict(np.load(out))


def test_jax_steps_equal_tensorflow_steps(both_backends):
    initial, paths, tensorflow, jax = both_backends
    assert int(jax["iterations"]) == int(tensorflow["iterations"]) == pretrainer_steps.STEPS
    np.testing.assert_allclose(jax["train_loss"], tensorflow["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(jax["eval_mlm_loss"], tensorflow["eval_mlm_loss"], rtol=1e-4)
    assert float(jax["eval_mlm_accuracy"]) == float(tensorflow["eval_mlm_accuracy"])
    for index, path in enumerate(paths):
        np.testing.assert_allclose(
            jax[f"weight_{index}"], tensorflow[f"weight_{index}"],
            rtol=1e-4, atol=1e-5, err_msg=path,
        )


def test_jax_steps_move_table_and_weights_but_not_pooler(both_backends):
    initial, paths, _, jax = both_backends
    for index, path in enumerate(paths):
        moved = not np.array_equal(jax[f"weight_{index}"], initial[index])
        if "pooled_dense" in path:
            assert not moved, path  # nothing reads the pooler without NSP
        elif path.endswith("table") or path.endswith("kernel"):
            assert moved, path
    # Three steps of beta=0.995 toward losses near log(64) from 10.0.
    table = next(jax[f"weight_{i}"] for i, p in enumerate(paths) if p.endswith("table"))
    assert np.sum(table < 10.0) >= 8
    assert keras.backend.backend() == "tensorflow"
