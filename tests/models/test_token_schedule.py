"""The training schedule of token dropping, by hand."""

import numpy as np
import pytest
from keras import ops

from official_tokendrop.models import TokenDropBertEncoder
from official_tokendrop.models.flops import encoder_run_flops
from official_tokendrop.models.token_schedule import TokenSchedule, resolve_drop_layers

# keep 2 before step 5, then 4; every 3rd step (2, 5, 8, 11) runs full.
# Steps 0..11 by mode:  (2, drop) 0 1 3 4 | (2, full) 2 | (4, drop) 6 7 9 10 | (4, full) 5 8 11
ARGUMENTS = dict(num_layers=4, max_sequence_length=8, keep_k=2, keep_k_schedule=((5, 4),), full_step_every=3)


def test_modes_counts_and_kept_by_hand():
    schedule = TokenSchedule.checked(**ARGUMENTS)
    assert schedule.modes == ((2, False), (2, True), (4, False), (4, True))
    assert schedule.mode_kept == (2, 2, 4, 4)
    assert schedule.mode_counts(0, 12).tolist() == [4, 1, 4, 3]
    assert schedule.mode_counts(5, 9).tolist() == [0, 0, 2, 2]
    assert [schedule.kept_at(s) for s in range(12)] == [2, 2, None, 2, 2, None, 4, 4, None, 4, 4, None]
    # Elementwise on NumPy arrays and tensors alike.
    expected = [0, 0, 1, 0, 0, 3, 2, 2, 3, 2, 2, 3]
    assert np.asarray(schedule.mode_index(np.arange(12))).tolist() == expected
    assert np.asarray(schedule.mode_index(ops.arange(12))).tolist() == expected
    # Each step's own pass: 4 x 2 + 1 x 8 + 4 x 4 + 3 x 8 = 56 of 12 x 8 tokens.
    assert schedule.kept_fraction(8, 0, 12) == pytest.approx(56 / 96)
    assert schedule.kept_fraction(8) == 2 / 8
    assert schedule.drop_layers == (1, 2) and schedule.num_kept == 2


def test_run_cost_weighs_each_mode_by_its_steps():
    schedule = TokenSchedule.checked(**ARGUMENTS)
    seconds = [1.0, 10.0, 100.0, 1000.0]
    assert schedule.run_cost(0, 12, lambda index: seconds[index]) == 4 + 10 + 400 + 3000
    assert schedule.run_cost(3, 3, lambda index: seconds[index]) == 0


def test_passes_of_a_full_step_with_and_without_consistency():
    plain = TokenSchedule.checked(**ARGUMENTS)
    assert [plain.mode_passes(i) for i in range(4)] == [(2,), (None,), (4,), (None,)]
    consistency = TokenSchedule.checked(**ARGUMENTS, consistency_weight=0.5)
    assert [consistency.mode_passes(i) for i in range(4)] == [(2,), (None, 2), (4,), (None, 4)]
    baseline = TokenSchedule.checked(num_layers=4, max_sequence_length=8, keep_k=None)
    assert baseline.modes == ((None, True),) and baseline.mode_passes(0) == (None,)
    assert baseline.kept_fraction(8, 0, 5) == 1.0 and baseline.drop_layers == ()


def test_run_flops_by_hand():
    """Blocks of hidden 8, inner 16 on a sequence of 8: a block with q
    queries over k keys costs 2*8*8*(2q + 2k) + 4*q*k*8 + 4*q*8*16 FLOPs:
    full (8, 8) 10240; first dropping (2, 8) 4096, (4, 8) 6144; kept-only
    (2, 2) 2176, (4, 4) 4608. Layers 0 and 3 full, 1 first dropping, 2
    kept-only: 40960 full, 26752 at 2, 31232 at 4. The head, 3
    predictions into 50 ids: 2*3*8*(8 + 50) = 2784. A training step of a
    batch of 2 is 3 x 2 x (encoder + head)."""
    full, two, four = (6 * (encoder + 2784) for encoder in (40960, 26752, 31232))
    assert (full, two, four) == (262464, 177216, 204096)

    def encoder(**variant):
        return TokenDropBertEncoder(vocab_size=50, hidden_size=8, num_layers=4, num_attention_heads=2,
                                    inner_dim=16, max_sequence_length=8, token_keep_k=2,
                                    token_keep_k_schedule=((5, 4),), token_full_step_every=3,
                                    token_allow_list=(), token_deny_list=(), **variant)

    assert encoder_run_flops(encoder(), 8, 3, 2, 0, 12) == 4 * two + 1 * full + 4 * four + 3 * full
    # With a consistency loss a full step also pays its stage's dropping pass.
    assert encoder_run_flops(encoder(token_consistency_weight=1.0), 8, 3, 2, 0, 12) == (
        4 * two + 1 * (full + two) + 4 * four + 3 * (full + four))
    assert encoder().kept_fraction(8, 0, 12) == pytest.approx(56 / 96)


def test_drop_layers_default_to_the_papers():
    assert resolve_drop_layers(12) == (5, 10)
    assert resolve_drop_layers(12, first_drop_layer=2) == (2, 10)
    assert resolve_drop_layers(4, 0, 1) == (0, 1)
    assert TokenSchedule.checked(num_layers=6, max_sequence_length=8, keep_k=4).drop_layers == (2, 3, 4)
