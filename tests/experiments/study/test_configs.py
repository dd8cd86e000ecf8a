"""The experiment configs of the released model's arms, and the check of
the released model against the scale, on a tiny stand-in."""

import json

import pytest

from experiments.study.arms import SCALES
from experiments.study.configs import Configs
from experiments.study.corpora import Corpus
from official_tokendrop.data.vocabulary import load_vocabulary
from official_tokendrop.errors import ConfigurationError
from study_files import SPECIAL_IDS, TOKENS, tiny_release
from transformers_files import write_tokenizer_json

TINY = SCALES["tiny"]


def configs(release, scale=TINY):
    """A study's configs whose "released" corpus has the stand-in's
    tokenizer.json as its vocabulary (data paths are never read here)."""
    vocabulary = load_vocabulary(f"{release}/tokenizer.json")
    corpus = Corpus(["sqlite_docs.txt"], 10, vocabulary, {"train": "t.txt", "heldout": "h.txt"},
                    {"train": "train/*.tfrecord", "heldout": "heldout/*.tfrecord"})
    return Configs(scale, {"released": corpus}, "/work", seed=0, evaluations=2, released=release)


def test_released_arms_continue_the_release_with_its_vocabulary(tmp_path):
    release = tiny_release(tmp_path / "release", TINY)
    study = configs(release)
    experiment, override = study.override("released_token_drop", seed=1)
    task, encoder = override["task"], override["task"]["model"]["encoder"]["any"]
    assert experiment == "token_drop_bert/pretraining" and task["seed"] == 1
    assert task["init_checkpoint"] == release and task["vocab_file"] == f"{release}/tokenizer.json"
    # Its vocabulary's size and special ids, the scale's positions and GELU form.
    assert (encoder["vocab_size"], encoder["token_allow_list"], encoder["token_deny_list"]) == (
        len(TOKENS), SPECIAL_IDS["allow"], SPECIAL_IDS["deny"])
    assert (encoder["max_position_embeddings"], encoder["hidden_activation"], encoder["token_keep_k"]) == (
        TINY.positions, TINY.hidden_activation, TINY.seq // 2)
    # A continuation's steps and warm-up; the equal-cost one at its own steps.
    trainer = override["trainer"]
    assert trainer["train_steps"] == TINY.continue_steps == 6
    assert trainer["optimizer_config"]["warmup"]["polynomial"]["warmup_steps"] == 1
    assert study.override("released_dense_equal_cost", steps=5)[1]["trainer"]["train_steps"] == 5
    # The controls: the release as it ships needs no config; random weights
    # of its shape start from nothing.
    random_task = study.override("released_random")[1]["task"]
    assert "init_checkpoint" not in random_task
    assert random_task["model"]["encoder"]["any"] == {**encoder, "token_keep_k": None}
    study.check_released(["released", "released_dense"])


@pytest.mark.parametrize("config, message", [
    ({"hidden_act": "gelu"}, "hidden_activation=gelu but the source has gelu_exact"),
    ({"num_hidden_layers": 3}, "num_layers=4 but the source has 3"),
    ({"max_position_embeddings": 64}, "max_position_embeddings=32 but the source has 64"),
])
def test_a_release_of_another_shape_is_refused_by_key(tmp_path, config, message):
    release = tiny_release(tmp_path / "release", TINY, **config)
    with pytest.raises(ConfigurationError, match=f"init_checkpoint {release} does not fit the model: .*{message}"):
        configs(release).check_released(["released_random"])


def test_the_minilm_scale_fits_minilms_config(tmp_path):
    # all-MiniLM-L6-v2's config.json as it ships, with a tokenizer.json of
    # its size (the check reads no weights).
    release = tmp_path / "minilm"
    release.mkdir()
    (release / "config.json").write_text(json.dumps({
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu", "hidden_size": 384,
        "intermediate_size": 1536, "max_position_embeddings": 512, "num_attention_heads": 12,
        "num_hidden_layers": 6, "type_vocab_size": 2, "vocab_size": 30522, "position_embedding_type": "absolute"}))
    (release / "model.safetensors").write_bytes(b"")
    write_tokenizer_json(release / "tokenizer.json", TOKENS + [f"w{i}" for i in range(30522 - len(TOKENS))])
    configs(str(release), SCALES["minilm"]).check_released(["released_dense"])
