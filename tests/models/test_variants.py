"""Beyond the paper: selection strategies, keep-k schedules, hybrid full
steps with a consistency loss, and the FLOPs of a whole run."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import ALLOW, SEQ, batch, encoder_inputs, tiny_encoder, tiny_params
from official_tokendrop import train
from official_tokendrop.errors import ConfigurationError
from official_tokendrop.models.flops import encoder_run_flops, step_flops
from official_tokendrop.models import BertPretrainer

STRATEGIES = ("loss", "random", "frequency")
FEATURES = batch(4, seed=11)
INPUTS = encoder_inputs(FEATURES)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_keeps_k_real_tokens_and_the_pins(strategy):
    encoder = tiny_encoder(token_selection=strategy, token_keep_k=6)
    if strategy == "frequency":  # some counts, so the ranking is not flat
        encoder.record_inputs(FEATURES["input_word_ids"], FEATURES["input_mask"])
    ids, mask = FEATURES["input_word_ids"], FEATURES["input_mask"]
    keep, drop = (t.numpy() for t in encoder.select_tokens(ids, mask))
    for b in range(len(ids)):
        assert keep.shape[1] == 6 and sorted(keep[b].tolist() + drop[b].tolist()) == list(range(SEQ))
        kept_ids = ids[b][keep[b]]
        assert (mask[b][keep[b]] == 1).all()  # only real tokens while 6 are real
        allowed = [p for p in range(SEQ) if ids[b, p] in ALLOW and mask[b, p]]
        assert set(allowed) <= set(keep[b].tolist()), (strategy, b)  # [MASK] etc. always kept
        assert 0 not in kept_ids  # deny-listed [PAD] never kept while others remain


def test_frequency_keeps_the_rarest_ids():
    encoder = tiny_encoder(token_selection="frequency", token_keep_k=5, token_allow_list=(), token_deny_list=())
    ids = np.array([[10, 11, 12, 13] * 4], "int32")
    mask = np.ones_like(ids)
    encoder.record_inputs(np.array([[10] * 5 + [11] * 3 + [12] * 1 + [13] * 2]), np.ones([1, 11]))
    keep, _ = encoder.select_tokens(ids, mask)
    # 12 (seen once) is rarest: all four of it, then the first 13 (seen
    # twice); ties go to the earlier position.
    np.testing.assert_array_equal(keep.numpy(), [[2, 3, 6, 10, 14]])


def test_random_differs_between_steps_and_repeats_with_the_seed():
    def selections():
        keras.utils.set_random_seed(3)
        encoder = tiny_encoder(token_selection="random")
        ids, mask = FEATURES["input_word_ids"], FEATURES["input_mask"]
        return [encoder.select_tokens(ids, mask)[0].numpy() for _ in range(2)]

    first, second = selections()
    assert not np.array_equal(first, second)
    again = selections()
    np.testing.assert_array_equal(again[0], first)
    np.testing.assert_array_equal(again[1], second)


def _one_step(encoder_kwargs, start=None, step=3):
    """One Adam step of a pretrainer at 0-based training `step` from the
    trainable values `start` (same order in every variant: the tables are
    not trainable)."""
    keras.utils.set_random_seed(0)
    model = BertPretrainer(tiny_encoder(**encoder_kwargs))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(step)  # the step the backend picks the mode by
    for variable, value in zip(model.trainable_variables, start or []):
        variable.assign(value)
    before = [v.numpy() for v in model.trainable_variables]
    logs = model.train_on_batch(FEATURES, return_dict=True)
    return before, [v.numpy() for v in model.trainable_variables], logs


BASELINE = _one_step(dict(token_keep_k=None))


@pytest.mark.parametrize("variant", [
    dict(token_selection="loss"), dict(token_selection="random"), dict(token_selection="frequency"),
    # At step 3: the stage from step 2 on keeps every token; a full step
    # (every 4th: steps 3, 7, ...); a full step with its consistency pass.
    dict(token_keep_k=6, token_keep_k_schedule=((2, SEQ),)), dict(token_keep_k=6, token_full_step_every=4),
    dict(token_full_step_every=4, token_consistency_weight=0.5),
])
def test_keep_all_variant_step_equals_the_baseline_step(variant):
    start, expected, base_logs = BASELINE
    _, got, logs = _one_step({"token_keep_k": SEQ, **variant}, start)
    assert logs["loss"] == pytest.approx(base_logs["loss"], abs=1e-5)
    for index, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, atol=2e-5, err_msg=str(index))


@pytest.mark.slow
def test_hybrid_full_step_equals_a_baseline_step():
    """Every 4th step full, k=6 of 16: the backend runs step 3 as the
    baseline's step and step 2 with dropping."""
    start, expected, base_logs = BASELINE
    hybrid = dict(token_keep_k=6, token_full_step_every=4)
    _, got, logs = _one_step(hybrid, start, step=3)
    assert logs["loss"] == pytest.approx(base_logs["loss"], abs=1e-6)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-6)
    _, base_2, _ = _one_step(dict(token_keep_k=None), start, step=2)
    _, hybrid_2, _ = _one_step(hybrid, start, step=2)
    _, dropped_2, _ = _one_step(dict(token_keep_k=6), start, step=2)
    assert max(np.abs(a - b).max() for a, b in zip(hybrid_2, base_2)) > 1e-3  # dropping differs
    for a, b in zip(hybrid_2, dropped_2):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_consistency_loss_is_the_weighted_kl_of_full_and_dropped():
    model = BertPretrainer(tiny_encoder(token_keep_k=6, token_full_step_every=1, token_consistency_weight=0.5))
    outputs = model(FEATURES, training=True, keep_k=6, full=True)
    full = outputs["mlm_logits"].numpy().astype("float64")
    dropped = outputs["mlm_logits_dropped"].numpy().astype("float64")
    weights = FEATURES["masked_lm_weights"]

    def log_softmax(x):
        return x - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)) - x.max(-1, keepdims=True)

    p = np.exp(log_softmax(full))
    kl = (p * (log_softmax(full) - log_softmax(dropped))).sum(-1)
    ids = FEATURES["masked_lm_ids"]
    mlm = -np.take_along_axis(log_softmax(full), ids[..., None], -1)[..., 0]
    expected = (mlm * weights).sum() / weights.sum() + 0.5 * (kl * weights).sum() / weights.sum()
    loss, _ = model.pretraining_losses(FEATURES, outputs, weights.sum())
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert (kl * weights).sum() > 0


def test_stage_boundaries_and_full_steps_land_on_their_steps():
    encoder = tiny_encoder(token_keep_k=4, token_keep_k_schedule=((3, 8), (5, 12)), token_full_step_every=4)
    assert encoder.training_modes == ((4, False), (4, True), (8, False), (8, True), (12, False), (12, True))
    # 0-based steps; every 4th step (3, 7, ...) runs full.
    assert [encoder.schedule.kept_at(s) for s in range(9)] == [4, 4, 4, None, 8, 12, 12, None, 12]
    assert encoder.kept_fraction(SEQ, 0, 4) == pytest.approx((4 + 4 + 4 + 16) / 64)


def test_run_flops_add_up_every_step_at_its_mode():
    encoder = tiny_encoder(token_keep_k=4, token_keep_k_schedule=((3, 8),), token_full_step_every=4,
                           token_consistency_weight=1.0)

    def one(keep):
        return step_flops(16, 4, 32, SEQ, 64, 4, 2, keep_k=keep).training_step

    # Steps 0-5: keep 4, 4, 4, full + keep-8 pass, 8, 8.
    expected = 3 * one(4) + (one(None) + one(8)) + 2 * one(8)
    assert encoder_run_flops(encoder, SEQ, 4, 2, 0, 6) == expected
    plain = tiny_encoder(token_keep_k=4)
    assert encoder_run_flops(plain, SEQ, 4, 2, 0, 5) == 5 * one(4)


def _schedule_params(demo_data, steps):
    params = tiny_params(demo_data, train_steps=steps)
    # Without XLA: six branch programs compile in seconds, not minutes.
    params.override({"runtime": {"enable_xla": False}, "task": {"seed": 3, "model": {"encoder": {"any": {
        "token_keep_k": 8, "token_keep_k_schedule": [{"start_step": 5, "keep_k": 12}, {"start_step": 12, "keep_k": 16}],
        }}}}})
    return params


@pytest.mark.slow
def test_schedule_run_killed_mid_stage_resumes_in_that_stage(demo_data, tmp_path):
    from conftest import runner

    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    expected = train.run(_schedule_params(demo_data, 15), straight, "train")["train"]
    train.run(_schedule_params(demo_data, 10), resumed, "train")  # stops in stage 2 (steps 5-11)
    trainer = runner(_schedule_params(demo_data, 15), resumed)
    trainer.restore()
    encoder = trainer.model.encoder
    assert trainer.step == 10 and encoder.schedule.kept_at(trainer.step) == 12
    table = "model/encoder/token_importance/table/.ATTRIBUTES/VARIABLE_VALUE"
    np.testing.assert_array_equal(encoder.token_importance.table.numpy(),
                                  tf.train.load_variable(os.path.join(resumed, "ckpt-10"), table))
    got = train.run(_schedule_params(demo_data, 15), resumed, "train")["train"]
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-5)
    np.testing.assert_allclose(tf.train.load_variable(os.path.join(resumed, "ckpt-15"), table),
                               tf.train.load_variable(os.path.join(straight, "ckpt-15"), table), atol=1e-5)
    # The run's FLOPs count each step at its stage: 5 at 8, 7 at 12 and 3
    # at 16 kept.
    def one(keep):
        return step_flops(32, 3, 64, 32, 2000, 5, 8, keep_k=keep).training_step

    assert expected["total_flops"] == 5 * one(8) + 7 * one(12) + 3 * one(16)
    assert got["train_flops"] == 2 * one(12) + 3 * one(16)


@pytest.mark.parametrize("override, message", [
    ({"token_selection": "entropy"}, r"`token_selection` must be one of"),
    ({"token_keep_k_schedule": [{"start_step": 10, "keep_k": 12}, {"start_step": 5, "keep_k": 16}]},
     r"`token_keep_k_schedule` start steps must increase"),
    ({"token_keep_k_schedule": [{"start_step": 10, "keep_k": 40}]}, r"exceeds task.train_data.seq_length"),
    ({"token_full_step_every": -1}, r"`token_full_step_every` must be an integer >= 0"),
    ({"token_consistency_weight": -0.5, "token_full_step_every": 2}, r"`token_consistency_weight` \(-0.5\) must be >= 0"),
    ({"token_consistency_weight": 0.5}, r"needs full steps"),
    ({"token_keep_k_schedule": [{"start_step": 10}]}, r"stages are \[start_step, keep_k\] integer pairs"),
    ({"token_keep_k_schedule": [{"start_step": 10, "keep_k": 0}]}, r"keep_k >= 1; got \(10, 0\)"),
    ({"token_keep_k": None, "token_full_step_every": 4}, r"`token_full_step_every` need token dropping"),
    ({"token_keep_k": None, "token_selection": "random"}, r"`token_selection` need token dropping"),
])
def test_bad_variant_configuration_is_refused(demo_data, tmp_path, override, message):
    params = tiny_params(demo_data)
    params.override({"task": {"model": {"encoder": {"any": override}}}})
    with pytest.raises(ConfigurationError, match=message):
        train.run(params, str(tmp_path), "train")


def test_bad_variant_on_the_command_line_is_one_line(demo_data, tmp_path, capsys):
    from conftest import run_program

    status = run_program("official_tokendrop.train", "--experiment=token_drop_bert/demo", "--mode=train",
                         f"--model_dir={tmp_path}", "--params_override=task.model.encoder.any.token_selection=entropy")
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("train: error: `token_selection` must be one of")
