import pytest

from conftest import tiny_encoder
from official_tokendrop.models.flops import encoder_step_flops, step_flops


def test_tiny_config_against_a_hand_count():
    # H=2, I=4, S=4, 3 layers (drop layers 0..1 with k=2), V=10, P=1.
    # Full block: proj 2*4*(2*4+2*4)=128, attn 4*4*4*2=128, ffn 4*4*2*4=128 -> 384.
    # Cross block (2 queries, 4 keys): proj 2*4*(4+8)=96, attn 4*2*4*2=64, ffn 4*2*2*4=64 -> 224.
    # Kept block (2, 2): proj 2*4*(4+4)=64, attn 4*2*2*2=32, ffn 64 -> 160.
    # Head: 2*1*2*(2+10) = 48.
    base = step_flops(2, 3, 4, 4, 10, 1)
    assert base.encoder == 3 * 384 and base.mlm_head == 48
    assert base.training_step == 3 * (3 * 384 + 48)
    drop = step_flops(2, 3, 4, 4, 10, 1, keep_k=2)
    assert drop.encoder == 384 + 224 + 160  # layer 0 cross, 1 kept, 2 full
    assert step_flops(2, 3, 4, 4, 10, 1, batch_size=5, keep_k=2).forward == 5 * drop.forward


def test_paper_small_preset_ratio():
    # 12 layers, hidden 256, seq 512, keep 256, 76 predictions, vocab 30522.
    base = step_flops(256, 12, 1024, 512, 30522, 76)
    drop = step_flops(256, 12, 1024, 512, 30522, 76, keep_k=256)
    assert drop.training_step / base.training_step == pytest.approx(0.752, abs=0.001)


def test_encoder_helper_reads_the_schedule():
    encoder = tiny_encoder()  # 4 layers, hidden 16, inner 32, keep 6, layers 1..2
    got = encoder_step_flops(encoder, 16, 4, batch_size=2, kept=encoder.schedule.num_kept)
    assert got == step_flops(16, 4, 32, 16, 64, 4, 2, keep_k=6, first_drop_layer=1, last_drop_layer=2)
    assert encoder_step_flops(encoder, 16, 4) == step_flops(16, 4, 32, 16, 64, 4)
