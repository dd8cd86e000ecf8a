import numpy as np
import pytest

from official_tokendrop.layers import MergeTokens, SplitTokens, TokenSelection


def test_top_k_with_ties_keeps_earlier_positions():
    scores = np.array([[5.0, 1.0, 5.0, 3.0, 5.0, 0.0]], "float32")
    keep, drop = TokenSelection(2)(scores)
    np.testing.assert_array_equal(keep.numpy(), [[0, 2]])
    np.testing.assert_array_equal(drop.numpy(), [[1, 3, 4, 5]])


def test_kept_and_dropped_are_sorted_complements():
    rng = np.random.default_rng(0)
    # Few distinct values, so ties are everywhere.
    scores = rng.integers(0, 3, (8, 20)).astype("float32")
    keep, drop = TokenSelection(7)(scores)
    keep, drop = keep.numpy(), drop.numpy()
    assert keep.shape == (8, 7) and drop.shape == (8, 13)
    for b in range(8):
        np.testing.assert_array_equal(np.sort(np.r_[keep[b], drop[b]]), np.arange(20))
        assert np.all(np.diff(keep[b]) > 0) and np.all(np.diff(drop[b]) > 0)
        # Every kept score is >= every dropped score.
        assert scores[b, keep[b]].min() >= scores[b, drop[b]].max()


def test_random_keep_adds_eligible_tokens_in_training_only():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(16, 12)).astype("float32")
    eligible = np.ones([16, 12], bool)
    eligible[:, 8:] = False
    selection = TokenSelection(3, random_keep_k=2, seed=7)
    keep, drop = selection(scores, eligible=eligible, training=True)
    keep = keep.numpy()
    assert keep.shape == (16, 5) and drop.shape == (16, 7)
    top3 = np.argsort(-scores, axis=1, kind="stable")[:, :3]
    extra_draws = []
    for b in range(16):
        assert set(top3[b]) <= set(keep[b])
        extra = sorted(set(keep[b]) - set(top3[b]))
        assert len(extra) == 2 and all(e < 8 for e in extra)
        extra_draws.append(tuple(extra))
    assert len(set(extra_draws)) > 1  # random, not fixed
    # At inference the two extra slots go to the next best scores.
    keep_eval, _ = selection(scores, eligible=eligible, training=False)
    top5 = np.sort(np.argsort(-scores, axis=1, kind="stable")[:, :5], axis=1)
    np.testing.assert_array_equal(keep_eval.numpy(), top5)


def test_selection_rejects_bad_k():
    with pytest.raises(ValueError, match="token_keep_k"):
        TokenSelection(0)
    with pytest.raises(ValueError, match="exceeds the sequence length"):
        TokenSelection(5)(np.zeros([1, 4], "float32"))


def test_merge_after_split_is_identity():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 10, 4)).astype("float32")
    mask = rng.integers(0, 2, (3, 10)).astype("int32")
    keep, drop = TokenSelection(4)(rng.normal(size=(3, 10)).astype("float32"))
    kept, dropped = SplitTokens()(x, keep, drop)
    np.testing.assert_array_equal(kept.numpy(), np.take_along_axis(x, keep.numpy()[..., None], 1))
    np.testing.assert_array_equal(dropped.numpy(), np.take_along_axis(x, drop.numpy()[..., None], 1))
    np.testing.assert_array_equal(MergeTokens()(kept, dropped, keep, drop).numpy(), x)
    kept_mask, dropped_mask = SplitTokens()(mask, keep, drop)
    np.testing.assert_array_equal(
        MergeTokens()(kept_mask, dropped_mask, keep, drop).numpy(), mask
    )


def test_routing_layers_config_round_trip():
    selection = TokenSelection(5, random_keep_k=2, seed=3, name="sel")
    assert TokenSelection.from_config(selection.get_config()).get_config() == (
        selection.get_config()
    )
    for cls in (SplitTokens, MergeTokens):
        layer = cls(name="r")
        assert cls.from_config(layer.get_config()).get_config() == layer.get_config()
