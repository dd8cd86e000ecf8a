"""run_squad: its checks before training, and one SQuAD v2.0 fine-tune end
to end on a tiny model (slow)."""

import json
import os

import pytest
from official.nlp.tools import squad_evaluate_v2_0

from official_tokendrop.errors import ConfigurationError
from official_tokendrop.finetuning.squad import run_squad

import squad_samples
from squad_samples import write_squad

RUN = dict(learning_rate=1e-3, epochs=1, batch_size=4, seed=0, sequence_length=32, doc_stride=8,
           max_query_length=16)


@pytest.mark.parametrize("change, message", [
    ({"epochs": 0}, "epochs=0 must be a positive integer"),
    ({"doc_stride": 2.5}, "doc_stride=2.5 must be a positive integer"),
    ({"n_best_size": True}, "n_best_size=True must be a positive integer"),
    ({"learning_rate": 0.0}, "learning_rate=0.0 must be positive"),
    ({"sequence_length": 64}, "--sequence_length=64 exceeds the preset's 32 position embeddings"),
])
def test_settings_are_refused_before_anything_is_read(tmp_path, change, message):
    with pytest.raises(ConfigurationError, match=message):
        run_squad(squad_samples.pretrained(), "2.0", "missing.json", "missing.json", str(tmp_path / "out"),
                  **{**RUN, **change})
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.slow
def test_squad_2_0_end_to_end(tmp_path):
    """Trains on the tiny v2.0 file and predicts it back: the written files
    hold every question, and the returned scores are the official script's
    on predictions.json at the chosen threshold."""
    path = write_squad(tmp_path / "train-v2.0.json", squad_samples.v2_questions(), "v2.0")
    output = str(tmp_path / "out")
    results = run_squad(squad_samples.pretrained(), "2.0", path, path, output,
                        **{**RUN, "epochs": 60, "learning_rate": 5e-3})
    assert sorted(os.listdir(output)) == ["nbest_predictions.json", "null_odds.json", "predictions.json"]
    with open(os.path.join(output, "predictions.json")) as f:
        predictions = json.load(f)
    with open(os.path.join(output, "null_odds.json")) as f:
        null_odds = json.load(f)
    assert sorted(predictions) == sorted(null_odds) == ["cat", "fox", "land", "owner"]
    with open(path) as f:
        official = squad_evaluate_v2_0.evaluate(json.load(f)["data"], predictions)
    assert (results["exact_match"], results["f1"]) == (official["exact"], official["f1"])
    assert results["f1"] == pytest.approx(results["best_f1"])
    threshold = results["null_score_diff_threshold"]
    assert threshold == results["best_f1_thresh"]
    assert all((predictions[q] == "") == (null_odds[q] > threshold) for q in predictions)
    assert (results["train_questions"], results["predict_questions"]) == (4, 4)
    assert results["train_windows"] == results["predict_windows"] >= 4
    # Four questions memorised by a one-layer model in 60 epochs.
    assert results["exact_match"] == 100.0
