import numpy as np
import pytest
import tensorflow as tf

from official_tokendrop.data.masking import MaskingConfig, mask_tokens

VOCAB, MASK_ID, CLS, SEP = 500, 4, 2, 3
SPECIAL = (0, 1, 2, 3, 4)
CONTINUATION = tuple(range(400, 500))  # ids 400.. play "##x" pieces


def _sequences(n=4000, seq_length=128, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(64, seq_length + 1, n)
    ids = rng.integers(5, VOCAB, (n, seq_length)).astype(np.int32)
    mask = (np.arange(seq_length)[None] < lengths[:, None]).astype(np.int32)
    ids[:, 0] = CLS
    ids[np.arange(n), lengths - 1] = SEP
    ids[mask == 0] = 0
    return ids, mask


def _config(**kwargs):
    args = dict(
        max_predictions_per_seq=20,
        masked_lm_prob=0.15,
        mask_id=MASK_ID,
        special_ids=SPECIAL,
        vocab_size=VOCAB,
        continuation_ids=CONTINUATION,
    )
    return MaskingConfig(**{**args, **kwargs})


@pytest.fixture(scope="module")
def masked():
    ids, mask = _sequences()
    out = {k: v.numpy() for k, v in mask_tokens(ids, mask, [1, 2], _config()).items()}
    return ids, mask, out


def test_selected_fraction_matches_masked_lm_prob(masked):
    ids, mask, out = masked
    eligible = (mask == 1) & ~np.isin(ids, SPECIAL)
    fraction = out["masked_lm_weights"].sum() / eligible.sum()
    assert abs(fraction - 0.15) < 0.005
    # Per sequence exactly min(P, max(1, round(eligible * p))).
    budget = np.minimum(20, np.maximum(1, np.round(eligible.sum(1) * 0.15)))
    np.testing.assert_array_equal(out["masked_lm_weights"].sum(1), budget)


def test_80_10_10_corruption(masked):
    ids, _, out = masked
    w = out["masked_lm_weights"] > 0
    rows = np.nonzero(w)[0]
    shown = out["input_word_ids"][rows, out["masked_lm_positions"][w]]
    labels = out["masked_lm_ids"][w]
    np.testing.assert_array_equal(labels, ids[rows, out["masked_lm_positions"][w]])
    as_mask = np.mean(shown == MASK_ID)
    unchanged = np.mean(shown == labels)
    assert abs(as_mask - 0.8) < 0.02
    assert abs(unchanged - 0.1) < 0.02
    assert abs((1 - as_mask - unchanged) - 0.1) < 0.02
    assert not np.isin(shown[shown != labels], SPECIAL[:4]).any()
    # Nothing else in the input changed.
    unmasked = np.ones_like(ids, bool)
    unmasked[rows, out["masked_lm_positions"][w]] = False
    np.testing.assert_array_equal(out["input_word_ids"][unmasked], ids[unmasked])


def test_positions_weights_and_padding(masked):
    ids, mask, out = masked
    w = out["masked_lm_weights"]
    assert set(np.unique(w)) == {0.0, 1.0}
    pos = out["masked_lm_positions"]
    for b in range(len(ids)):
        real = pos[b][w[b] > 0]
        assert np.all(np.diff(real) > 0)  # sorted, distinct
        assert mask[b, real].all()  # inside the real tokens
        assert not np.isin(ids[b, real], SPECIAL).any()  # never special
        # Weighted slots first; padded slots are position 0, label 0.
        assert (w[b][: len(real)] == 1).all()
        assert (pos[b][len(real):] == 0).all()
        assert (out["masked_lm_ids"][b][len(real):] == 0).all()


def test_same_seed_same_output_other_seed_differs():
    ids, mask = _sequences(64)
    a = mask_tokens(ids, mask, [7, 7], _config())
    b = mask_tokens(ids, mask, [7, 7], _config())
    c = mask_tokens(ids, mask, [7, 8], _config())
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["masked_lm_positions"], c["masked_lm_positions"])


def test_whole_word_masking_takes_whole_words_within_budget():
    rng = np.random.default_rng(3)
    ids, mask = _sequences(500, seed=3)
    # Make ~40% of real tokens continuation pieces ("##x").
    cont = (rng.random(ids.shape) < 0.4) & (mask == 1) & ~np.isin(ids, SPECIAL)
    cont[:, 1] = False
    ids[cont] = rng.choice(CONTINUATION, cont.sum())
    out = mask_tokens(ids, mask, [3, 3], _config(whole_word=True))
    pos, w = out["masked_lm_positions"].numpy(), out["masked_lm_weights"].numpy()
    eligible = (mask == 1) & ~np.isin(ids, SPECIAL)
    budget = np.minimum(20, np.maximum(1, np.round(eligible.sum(1) * 0.15)))
    assert (w.sum(1) <= budget).all()
    assert w.sum() > 0.85 * budget.sum()
    is_cont = np.isin(ids, CONTINUATION)
    for b in range(len(ids)):
        chosen = set(pos[b][w[b] > 0].tolist())
        for p in chosen:
            # The piece after a chosen token is chosen too if it continues it.
            if p + 1 < ids.shape[1] and is_cont[b, p + 1] and eligible[b, p + 1]:
                assert p + 1 in chosen
            if is_cont[b, p] and eligible[b, p - 1]:
                assert p - 1 in chosen


def test_compiles_in_a_dataset_map():
    ids, mask = _sequences(8)
    ds = tf.data.Dataset.from_tensors((ids, mask)).map(
        lambda i, m: mask_tokens(i, m, tf.constant([1, 1], tf.int64), _config())
    )
    out = next(iter(ds))
    assert out["masked_lm_positions"].shape == (8, 20)


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(max_predictions_per_seq=0), "max_predictions"), (dict(masked_lm_prob=0.0), "masked_lm_prob")],
)
def test_bad_config_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _config(**kwargs)
