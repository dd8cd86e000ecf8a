"""The step-time benchmark's shapes and FLOP ratios at MiniLM's shape (the
timings themselves are the lead's, on a quiet machine)."""

import pytest

from experiments.benchmarks import step_time
from official_tokendrop.models.flops import step_flops


@pytest.mark.parametrize("seq, predictions", [(128, 20), (512, 76)])
def test_minilm_contenders_keep_half_all_or_every_token(seq, predictions):
    dims = dict(step_time.PRESETS["minilm"], seq=seq)
    assert [step_time.keep_k(name, dims) for name in ("ours_baseline", "ours_token_drop", "ours_keep_all")] == [
        None, seq // 2, seq]
    dense, half = (step_flops(384, 6, 1536, seq, 30522, predictions, 32, keep_k=k).training_step
                   for k in (None, seq // 2))
    assert step_time.flops("ours_baseline", dims) == dense and step_time.flops("ours_token_drop", dims) == half
    # Keeping every token computes what the dense model does: its time over
    # the baseline's is the machinery's own cost.
    assert step_time.flops("ours_keep_all", dims) == dense
    # 3 of 6 layers at half the tokens (layers 2-4 dropping, the first of them
    # with all keys): well short of half the step's FLOPs.
    assert 0.7 < half / dense < 0.8
