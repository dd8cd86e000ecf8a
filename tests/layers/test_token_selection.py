"""The layer pieces of the "frequency" and "random" selection strategies."""

import numpy as np
import pytest
import tensorflow as tf

from official_tokendrop.layers import TokenFrequency, TokenImportance, TokenSelection
from official_tokendrop.layers.token_importance import pinned_ids

ALLOW, DENY = (1,), (0,)


def make_frequency(**kwargs):
    return TokenFrequency(**{**dict(vocab_size=8, allow_list=ALLOW, deny_list=DENY), **kwargs})


# === pinned_ids ===


def test_pinned_ids_marks_and_values():
    pinned, values = pinned_ids(6, allow_list=(1, 4), deny_list=(0,))
    assert pinned.dtype == np.bool_ and values.dtype == np.float32
    np.testing.assert_array_equal(pinned, [True, True, False, False, True, False])
    np.testing.assert_array_equal(values, [-1e4, 1e4, 0, 0, 1e4, 0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(allow_list=(1, 2), deny_list=(2,)), r"Ids \[2\] are in both"),
        (dict(allow_list=(6,)), r"`token_allow_list` ids \[6\] are outside the vocabulary \[0, 6\)"),
        (dict(deny_list=(-1,)), r"`token_deny_list` ids \[-1\] are outside"),
    ],
)
def test_pinned_ids_rejects_bad_lists(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pinned_ids(6, **kwargs)
    # TokenImportance and TokenFrequency raise the same errors.
    with pytest.raises(ValueError, match=message):
        TokenImportance(6, **kwargs)
    with pytest.raises(ValueError, match=message):
        TokenFrequency(6, **kwargs)


# === TokenFrequency ===

IDS = np.array([[2, 3, 3, 1, 0, 3], [3, 5, 2, 2, 7, 7]])
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0]])
# Counted by hand over the positions with mask 1.
COUNTS = np.array([0, 1, 3, 3, 0, 1, 0, 1], "float32")


def test_frequency_counts_real_positions_only():
    layer = make_frequency()
    np.testing.assert_array_equal(layer.table.numpy(), np.zeros(8))
    layer.update(IDS, MASK)
    # Id 0 (pad) and the masked-out 3 and 7 are not counted.
    np.testing.assert_array_equal(layer.table.numpy(), COUNTS)

    # A second batch adds to the first; an out-of-range id under mask 0 is
    # clipped and ignored.
    layer.update(np.array([[3, 4, 4, 99]]), np.array([[1.0, 1.0, 0.5, 0.0]]))
    np.testing.assert_array_equal(
        layer.table.numpy(), COUNTS + np.array([0, 0, 0, 1, 2, 0, 0, 0])
    )


def test_frequency_scores_rarer_higher_and_pins_lists():
    layer = make_frequency()
    ids = np.arange(8)[None]
    # Before any update every unpinned id scores -log1p(0) = 0.
    np.testing.assert_array_equal(layer(ids).numpy(), [[-1e4, 1e4, 0, 0, 0, 0, 0, 0]])
    layer.update(IDS, MASK)
    layer.update(IDS, MASK)
    scores = layer(ids).numpy()
    assert scores.dtype == np.float32
    expected = -np.log1p(2 * COUNTS)
    expected[0], expected[1] = -1e4, 1e4  # pinned, though id 1 was counted
    np.testing.assert_allclose(scores, [expected], rtol=1e-6)
    # Any shape of ids; the rarest unpinned id (4, never seen) ranks first.
    np.testing.assert_allclose(
        layer(np.array([[[3, 4]], [[1, 0]]])).numpy(),
        [[[-np.log1p(6), 0.0]], [[1e4, -1e4]]],
        rtol=1e-6,
    )


def test_frequency_pinned_ids_never_change():
    layer = make_frequency()
    for _ in range(3):
        layer.update(np.array([[0, 1, 1, 0, 2]]), np.ones([1, 5]))
        np.testing.assert_array_equal(layer(np.array([0, 1])).numpy(), [-1e4, 1e4])
    # Even an enormous count stays above the -1e4 of denied ids.
    layer.table.assign(np.full([8], 3e38, "float32"))
    assert layer(np.array([2])).numpy()[0] > -100.0


def test_frequency_config_round_trip():
    layer = make_frequency(allow_list=(1, 2), deny_list=(0, 7), name="freq")
    layer.update(IDS, MASK)
    config = layer.get_config()
    assert config["vocab_size"] == 8
    assert config["allow_list"] == [1, 2] and config["deny_list"] == [0, 7]
    clone = TokenFrequency.from_config(config)
    assert clone.get_config() == config
    np.testing.assert_array_equal(clone(np.arange(8)).numpy()[[0, 1, 2, 7]], [-1e4, 1e4, 1e4, -1e4])
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(np.arange(8)).numpy(), layer(np.arange(8)).numpy())


def test_frequency_two_replicas_hold_the_global_counts(two_replicas):
    with two_replicas.scope():
        layer = make_frequency()

    @tf.function
    def step(ids, mask):
        two_replicas.run(layer.update, args=(ids, mask))

    dataset = two_replicas.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((IDS, MASK)).batch(2)
    )
    for ids, mask in dataset:  # one example per replica
        step(ids, mask)
    tables = [v.numpy() for v in layer.table.value.values]
    for table in tables:
        np.testing.assert_array_equal(table, COUNTS)


# === TokenSelection(random_order=True) ===

# The encoder's scores for the random strategy: pinned +1e4 / 0 / -1e4,
# minus 3e4 at padding.
B, S, K = 16, 12, 5
PINNED = np.zeros([B, S], "float32")
PINNED[:, 0] = 1e4  # [CLS]-like, allow-listed
PINNED[:, 6] = 1e4
PINNED[:, 3] = -1e4  # deny-listed
PADDED = np.zeros([B, S], bool)
for _b in range(B):
    PADDED[_b, S - _b % 6 :] = True  # 0..5 padded positions at the end
SCORES = PINNED - 3e4 * PADDED


def check_selection(keep, drop, scores=SCORES, k=K):
    keep, drop = np.asarray(keep), np.asarray(drop)
    assert keep.shape == (B, k) and drop.shape == (B, S - k)
    for b in range(B):
        np.testing.assert_array_equal(np.sort(np.r_[keep[b], drop[b]]), np.arange(S))
        assert np.all(np.diff(keep[b]) > 0) and np.all(np.diff(drop[b]) > 0)
        # Classes are never crossed: every kept score >= every dropped one.
        assert scores[b, keep[b]].min() >= scores[b, drop[b]].max()


def test_random_order_keeps_classes_and_randomizes_ties():
    selection = TokenSelection(K, random_order=True, seed=11)
    keep, drop = selection(SCORES, training=True)
    check_selection(keep, drop)
    keep = keep.numpy()
    for b in range(B):
        assert {0, 6} <= set(keep[b])  # allow-listed always kept
        real = np.flatnonzero(~PADDED[b] & (PINNED[b] > -1e4))
        # At most 5 padded of 12 and 1 denied leave >= 4 real unpinned
        # positions, enough for the 3 free slots: no pad, no denied kept.
        assert len(real) >= K
        assert not PADDED[b, keep[b]].any() and 3 not in keep[b]
    # Random among ties: not always the earliest positions.
    plain, _ = TokenSelection(K)(SCORES)
    assert not np.array_equal(keep, plain.numpy())
    assert len({tuple(k) for k in keep}) > 4
    # A second call draws anew.
    keep_2, drop_2 = selection(SCORES, training=True)
    check_selection(keep_2, drop_2)
    assert not np.array_equal(keep, keep_2.numpy())
    # The same seed in a new layer repeats the first selection exactly.
    again, _ = TokenSelection(K, random_order=True, seed=11)(SCORES, training=True)
    np.testing.assert_array_equal(again.numpy(), keep)


def test_random_order_keeps_pad_last_when_few_real_tokens():
    # Only 2 real positions: both kept, then the pads fill the rest.
    scores = np.full([B, S], -3e4, "float32")
    scores[:, [4, 9]] = 0.0
    keep, drop = TokenSelection(K, random_order=True, seed=2)(scores, training=True)
    check_selection(keep, drop, scores)
    assert all({4, 9} <= set(k) for k in keep.numpy())


def test_random_order_without_training_is_plain_ranking():
    rng = np.random.default_rng(0)
    scores = rng.integers(-1, 2, (B, S)).astype("float32") * 1e4
    selection = TokenSelection(K, random_order=True, seed=5)
    plain = TokenSelection(K)
    for training in (False, None):
        keep, drop = selection(scores, training=training)
        keep_p, drop_p = plain(scores)
        np.testing.assert_array_equal(keep.numpy(), keep_p.numpy())
        np.testing.assert_array_equal(drop.numpy(), drop_p.numpy())


def test_random_order_with_random_keeps():
    selection = TokenSelection(3, random_keep_k=2, random_order=True, seed=4)
    eligible = ~PADDED
    keep, drop = selection(SCORES, eligible=eligible, training=True)
    check_selection(keep, drop, scores=np.where(PADDED, -3e4, 0.0), k=5)
    for b, kept in enumerate(keep.numpy()):
        assert {0, 6} <= set(kept)  # the 2 allow-listed are among the top 3
        assert not PADDED[b, kept].any()  # random keeps only from eligible


def test_random_order_config_round_trip_and_seed_generator():
    selection = TokenSelection(5, random_order=True, seed=3, name="sel")
    config = selection.get_config()
    assert config["random_order"] is True
    assert TokenSelection.from_config(config).get_config() == config
    assert selection.seed_generator is not None
    # A deterministic layer still has no generator (no extra variables).
    assert TokenSelection(5).get_config()["random_order"] is False
    assert TokenSelection(5).seed_generator is None
