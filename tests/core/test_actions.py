"""The run on Orbit's controller: what it schedules, and at which steps;
the Model Garden translation table; export as an option of the run."""

import json
import os

import pytest
import tensorflow as tf

from official_tokendrop import train
from official_tokendrop.errors import ConfigurationError
from official_tokendrop.core.experiment_configs import encoder_arguments, encoder_key

from conftest import tiny_params


def _summary_steps(directory, tag):
    steps = set()
    for path in tf.io.gfile.glob(os.path.join(directory, "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            if any(value.tag == tag for value in event.summary.value):
                steps.add(event.step)
    return sorted(steps)


@pytest.mark.slow
def test_controller_schedules_checkpoints_summaries_and_evaluations(demo_data, tmp_path):
    schedule = {"trainer": {"validation_interval": 15, "checkpoint_interval": 7}}
    params = tiny_params(demo_data, train_steps=20)
    # Loops of 5 steps, summaries every 5; a checkpoint every 7 and an
    # evaluation every 15 (and at the end): loops are cut at 5, 7, 10, 14,
    # 15 and 20 so every event lands on its exact step, and only those on
    # the summary grid write train summaries.
    params.override(schedule)
    results = train.run(params, str(tmp_path), "train_and_eval")
    assert results["step"] == 20
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths] == [7, 14, 20]
    assert _summary_steps(tmp_path / "train", "loss") == [5, 10, 15, 20]
    assert _summary_steps(tmp_path / "eval", "mlm_loss") == [15, 20]
    assert json.load(open(tmp_path / "eval_results.json"))["step"] == 20
    assert not os.path.exists(tmp_path / "export")  # task.export is off
    # Resumed at 20 and trained on to 40: evaluations stay on the grid of
    # 15 (30, then the end), not 15 steps after the resume.
    params = tiny_params(demo_data, train_steps=40)
    params.override(schedule)
    train.run(params, str(tmp_path), "train_and_eval")
    assert _summary_steps(tmp_path / "eval", "mlm_loss") == [15, 20, 30, 40]
    assert _summary_steps(tmp_path / "train", "loss") == [5, 10, 15, 20, 25, 30, 35, 40]


def test_export_is_an_option_of_the_run(demo_data, tmp_path):
    params = tiny_params(demo_data, train_steps=5)
    params.override({"task": {"export": True}})
    results = train.run(params, str(tmp_path), "train")
    assert results["export"] == os.path.join(str(tmp_path), "export")
    assert os.path.exists(os.path.join(results["export"], "config.json"))
    params = tiny_params(demo_data, train_steps=5)
    params.override({"task": {"export": True, "vocab_file": ""}})
    with pytest.raises(ConfigurationError, match="task.export needs task.vocab_file"):
        train.run(params, str(tmp_path / "other"), "train")


def test_translation_table(demo_data):
    params = tiny_params(demo_data)
    arguments = encoder_arguments(params.task)
    encoder = params.task.model.encoder.any
    # Renamed keys arrive under the encoder's names; the rest keep theirs.
    assert arguments["inner_dim"] == encoder.intermediate_size == 64
    assert arguments["max_sequence_length"] == encoder.max_position_embeddings
    assert arguments["output_dropout"] == encoder.dropout_rate
    assert arguments["token_keep_k"] == 16 and arguments["token_allow_list"] == (1, 2, 3, 4)
    assert "intermediate_size" not in arguments and arguments["hidden_activation"] == "gelu"
    assert encoder_key("max_sequence_length") == "task.model.encoder.any.max_position_embeddings"
    assert encoder_key("token_keep_k") == "task.model.encoder.any.token_keep_k"
    # embedding_size may equal hidden_size; a Model Garden key the encoder
    # does not implement is refused, naming it.
    params.override({"task": {"model": {"encoder": {"any": {"embedding_size": 32}}}}})
    encoder_arguments(params.task)
    for key, value in (("norm_first", True), ("embedding_size", 16)):
        bad = tiny_params(demo_data)
        bad.override({"task": {"model": {"encoder": {"any": {key: value}}}}})
        with pytest.raises(ConfigurationError, match=rf"task.model.encoder.any.{key}={value!r} is not supported"):
            encoder_arguments(bad.task)
