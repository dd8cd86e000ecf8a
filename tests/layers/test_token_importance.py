import numpy as np
import pytest

from official_tokendrop.layers import TokenImportance


def make_table(**kwargs):
    args = dict(vocab_size=10, init_value=10.0, beta=0.5, allow_list=(1,), deny_list=(0,))
    return TokenImportance(**{**args, **kwargs})


def test_initial_table_pins_allow_and_deny_ids():
    table = make_table().table.numpy()
    np.testing.assert_array_equal(table, [-1e4, 1e4] + [10.0] * 8)


def test_update_matches_hand_computation():
    layer = make_table()
    label_ids = np.array([[3, 3, 5, 0], [3, 1, 7, 0]])
    losses = np.array([[2.0, 4.0, 6.0, 9.0], [6.0, 8.0, 1.0, 5.0]])
    weights = np.array([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    layer.update(label_ids, losses, weights)
    expected = [-1e4, 1e4, 10, 10, 10, 10, 10, 10, 10, 10]
    expected[3] = 0.5 * 10 + 0.5 * (2 + 4 + 6) / 3  # duplicates averaged: 7
    expected[5] = 0.5 * 10 + 0.5 * 6  # 8
    # id 7 and id 0 appear only with weight 0; id 1 is pinned.
    np.testing.assert_allclose(layer.table.numpy(), expected)

    # The running average continues from the new value; weights weigh.
    layer.update(
        np.array([[3, 5, 5, 1]]),
        np.array([[1.0, 2.0, 4.0, 100.0]]),
        np.array([[1.0, 0.5, 1.5, 1.0]]),
    )
    expected[3] = 0.5 * 7 + 0.5 * 1  # 4
    expected[5] = 0.5 * 8 + 0.5 * (0.5 * 2 + 1.5 * 4) / 2.0  # 5.75
    np.testing.assert_allclose(layer.table.numpy(), expected)


def test_padded_slots_never_move_pad():
    layer = make_table(beta=0.0)
    for _ in range(5):
        layer.update(np.zeros([2, 3]), np.full([2, 3], 3.0), np.zeros([2, 3]))
    np.testing.assert_array_equal(layer.table.numpy()[0], -1e4)
    np.testing.assert_array_equal(layer.table.numpy()[2:], 10.0)


def test_lookup_gathers_table_rows():
    layer = make_table()
    np.testing.assert_array_equal(
        layer(np.array([[1, 0, 4]])).numpy(), [[1e4, -1e4, 10.0]]
    )


def test_config_round_trip():
    layer = make_table(allow_list=(1, 2), deny_list=(0, 9))
    clone = TokenImportance.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone.table.numpy(), layer.table.numpy())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(allow_list=(1, 2), deny_list=(2,)), "both"),
        (dict(allow_list=(10,)), "outside the vocabulary"),
        (dict(deny_list=(-1,)), "outside the vocabulary"),
        (dict(beta=1.0), "beta"),
        (dict(vocab_size=0), "vocab_size"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_table(**kwargs)
