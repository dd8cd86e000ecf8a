"""`task.token_table_warmup_steps`: the token table warmed by forward passes
before step 0, nothing else moved, its FLOPs counted, never on resume."""

import numpy as np
import pytest

from conftest import runner, tiny_params
from official_tokendrop import train
from official_tokendrop.core.task import PretrainingTask
from official_tokendrop.errors import ConfigurationError
from official_tokendrop.models.flops import step_flops


def _params(data, warmup, **kwargs):
    params = tiny_params(data, **kwargs)
    params.override({"task": {"token_table_warmup_steps": warmup}})
    return params


def _reference_table(model, batches, table):
    """The running average of `TokenImportance` by hand: each batch's
    per-position MLM cross-entropy of the full encoder in inference,
    averaged per label id over the weighted positions."""
    importance = model.encoder.token_importance
    pinned = np.zeros(len(table), bool)
    pinned[list(importance.allow_list + importance.deny_list)] = True
    for features in batches:
        logits = model(features, training=False)["mlm_logits"].numpy().astype("float64")
        log_p = logits - logits.max(-1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
        labels, weights = features["masked_lm_ids"].numpy(), features["masked_lm_weights"].numpy()
        losses = -np.take_along_axis(log_p, labels[..., None], -1)[..., 0]
        sums, counts = np.zeros(len(table)), np.zeros(len(table))
        np.add.at(sums, labels[weights > 0], losses[weights > 0] * weights[weights > 0])
        np.add.at(counts, labels[weights > 0], weights[weights > 0])
        moved = (counts > 0) & ~pinned
        table = np.where(moved, importance.beta * table + (1 - importance.beta) * sums / np.maximum(counts, 1e-30),
                         table)
    return table


def test_warmup_moves_only_the_table_as_training_would(demo_data, tmp_path):
    run = runner(_params(demo_data, 3), str(tmp_path))
    assert run.restore() is None
    model, optimizer = run.model, run.trainable.optimizer
    weights = [v.numpy() for v in model.weights if v.name != "table"]
    slots = [v.numpy() for v in optimizer.variables]
    table = model.encoder.token_importance.table.numpy().astype("float64")
    data = iter(run.task.build_inputs("train", seed=run.task.train_seed))
    expected = _reference_table(model, [next(data) for _ in range(3)], table)

    assert run.warm_token_table() == 3
    np.testing.assert_allclose(model.encoder.token_importance.table.numpy(), expected, rtol=1e-5)
    assert (expected != table).sum() > 10  # ids seen in three batches moved
    for before, variable in zip(weights, [v for v in model.weights if v.name != "table"]):
        np.testing.assert_array_equal(variable.numpy(), before)
    for before, variable in zip(slots, optimizer.variables):
        np.testing.assert_array_equal(variable.numpy(), before)
    assert run.step == 0


@pytest.mark.slow
def test_warmup_flops_counted_once_and_a_resumed_run_does_not_warm_again(demo_data, tmp_path, capsys):
    e = tiny_params(demo_data).task
    encoder, data = e.model.encoder.any, e.train_data
    per_step = step_flops(encoder.hidden_size, encoder.num_layers, encoder.intermediate_size, data.seq_length,
                          encoder.vocab_size, data.max_predictions_per_seq, data.global_batch_size,
                          keep_k=encoder.token_keep_k).training_step
    forward = step_flops(encoder.hidden_size, encoder.num_layers, encoder.intermediate_size, data.seq_length,
                         encoder.vocab_size, data.max_predictions_per_seq, data.global_batch_size).forward
    first = train.run(_params(demo_data, 2, train_steps=10), str(tmp_path), "train")
    assert "token table warmed on 2 training batches" in capsys.readouterr().err
    assert first["train"]["train_flops"] == first["train"]["total_flops"] == 10 * per_step + 2 * forward

    resumed = train.run(_params(demo_data, 2, train_steps=20), str(tmp_path), "train")
    assert "token table warmed" not in capsys.readouterr().err
    assert resumed["train"]["train_flops"] == 10 * per_step
    assert resumed["train"]["total_flops"] == 20 * per_step + 2 * forward


@pytest.mark.parametrize("override, message", [
    ({"token_table_warmup_steps": -1}, "must be an integer >= 0; got -1"),
    ({"token_table_warmup_steps": 2, "model": {"encoder": {"any": {"token_keep_k": None}}}},
     r"token_keep_k=None drops no tokens"),
    ({"token_table_warmup_steps": 2, "model": {"encoder": {"any": {"token_selection": "random"}}}},
     r"token_selection=random ranks by no table"),
])
def test_bad_warmup_is_refused_by_name(demo_data, override, message):
    params = tiny_params(demo_data)
    params.override({"task": override})
    with pytest.raises(ConfigurationError, match=r"task\.token_table_warmup_steps.*" + message):
        PretrainingTask(params.task)
