"""The matmul-only ceiling of a training step on this machine.

Times each matmul shape of a BERT training step alone (XLA, float32) and
adds them up as forward + 2x backward, the FLOP model's count. The result
is the fastest a step could be with every other op free, i.e. the highest
share of the dense-matmul peak that step_time.py can report.

    .venv/bin/python experiments/benchmarks/matmul_shapes.py          # BERT-base, batch 2
    .venv/bin/python experiments/benchmarks/matmul_shapes.py --small  # 12 x 256, batch 8
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repository root

from experiments.benchmarks.step_time import PREDICTIONS, PRESETS, SEQ, VOCAB, median_seconds  # noqa: E402


def seconds(a_shape, b_shape):
    """Median seconds of one XLA matmul of random float32 operands."""
    import tensorflow as tf

    a, b = tf.random.normal(a_shape), tf.random.normal(b_shape)
    matmul = tf.function(tf.matmul, jit_compile=True)
    return median_seconds(lambda: matmul(a, b).numpy())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="12 layers x 256, batch 8")
    args = parser.parse_args()
    dims = PRESETS["small" if args.small else "base"]
    hidden, inner, layers, batch = dims["hidden"], dims["inner"], dims["layers"], dims["batch"]
    tokens, heads = batch * SEQ, batch * dims["heads"]
    head_dim = hidden // dims["heads"]
    # (name, A shape, B shape, count per layer or per step, per layer?)
    shapes = [
        ("Q/K/V/output projections", [tokens, hidden], [hidden, hidden], 4, True),
        ("feed-forward in", [tokens, hidden], [hidden, inner], 1, True),
        ("feed-forward out", [tokens, inner], [inner, hidden], 1, True),
        ("attention scores", [heads, SEQ, head_dim], [heads, head_dim, SEQ], 1, True),
        ("attention x values", [heads, SEQ, SEQ], [heads, SEQ, head_dim], 1, True),
        ("MLM head dense", [batch * PREDICTIONS[SEQ], hidden], [hidden, hidden], 1, False),
        ("MLM vocabulary projection", [batch * PREDICTIONS[SEQ], hidden], [hidden, VOCAB], 1, False),
    ]
    peak = 2 * 2048**3 / seconds([2048, 2048], [2048, 2048]) / 1e9
    print(f"{dims}, seq {SEQ}; dense matmul peak (2048^2): {peak:.0f} GFLOP/s")
    total_flops = total_seconds = 0.0
    for name, a, b, count, per_layer in shapes:
        flops = 2 * a[-2] * a[-1] * b[-1] * (a[0] if len(a) == 3 else 1)
        took = seconds(a, b)
        repeat = 3 * count * (layers if per_layer else 1)  # forward + 2x backward
        total_flops += repeat * flops
        total_seconds += repeat * took
        print(f"{name:<28}{flops / took / 1e9:>7.0f} GFLOP/s ({flops / took / 1e9 / peak:.0%} of peak)")
    ceiling = total_flops / total_seconds / 1e9
    print(f"\nmatmuls only: {total_seconds:.3f} s per step, {ceiling:.0f} GFLOP/s = "
          f"{ceiling / peak:.0%} of the peak (the ceiling for step_time.py's share)")


if __name__ == "__main__":
    main()
