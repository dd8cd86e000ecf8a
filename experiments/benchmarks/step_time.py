"""Training-step time of token dropping vs its baseline and peer BERTs.

Builds each contender at the same dimensions, runs XLA-compiled training
steps on one synthetic batch, interleaves the contenders round by round
(A B C D, B C D A, ...) so machine noise hits all alike, and prints the
median step time, examples/s, achieved GFLOP/s (FLOP model of
`official_tokendrop.models.flops`) and its share of a measured dense-matmul peak,
and the ratio to our baseline. Contenders:

- ours, dropping off (`bert/pretraining`); ours, token dropping (keep
  half); ours, token dropping keeping every token (`ours_keep_all`: the
  cost of the selection, split, merge and table update alone);
- keras-hub `BertBackbone` + `MaskedLMHead` (Keras 3);
- Model Garden `BertEncoderV2` + `BertPretrainerV2` (tf_keras).

With `--memory`, each contender also runs alone in a fresh process and
its peak memory is printed: resident memory on a CPU, the accelerator's
peak allocation under JAX on a GPU. With `--profile` (JAX), one step of
each contender is traced with `jax.profiler` and the ops that took the
most device time are listed with their share, to explain a gap instead of
guessing. `--dropout` sets every dropout rate of every contender (0
lets Keras' attention use the fused `ops.dot_product_attention`; keras-hub
has a single rate for attention and outputs). `--compiled=graph` or
`eager` runs the steps without XLA (eager: smoke runs, where compiling
costs more than their few steps).

The Keras 3 contenders run on whatever `KERAS_BACKEND` selects; Model
Garden's needs TensorFlow and is left out on other backends. `--seq` is the
sequence length (128 or 512, with BERT's masked predictions for it); every
model has 512 positions. Our contenders compute the preset's GELU form
(`minilm`: the exact one, as all-MiniLM-L6-v2 does); keras-hub's and Model
Garden's only the tanh form.

    .venv/bin/python experiments/benchmarks/step_time.py          # BERT-base, batch 2
    .venv/bin/python experiments/benchmarks/step_time.py --small  # 12 x 256, batch 8
    .venv/bin/python experiments/benchmarks/step_time.py --preset=minilm --seq=128 \
        --contenders=ours_baseline,ours_token_drop,ours_keep_all       # MiniLM's shape, batch 32
    KERAS_BACKEND=jax python experiments/benchmarks/step_time.py --batch=32 \
        --dtype=mixed_bfloat16                                    # a GPU with JAX
"""

import argparse
import glob
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads

import keras  # noqa: E402
import keras_hub  # noqa: E402

from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder  # noqa: E402
from official_tokendrop.models.flops import step_flops  # noqa: E402
from official_tokendrop.utils import synthetic  # noqa: E402
from official_tokendrop.utils.timing import interleaved_times  # noqa: E402

PRESETS = {
    "base": dict(hidden=768, layers=12, heads=12, inner=3072, batch=2, activation="gelu"),
    "small": dict(hidden=256, layers=12, heads=4, inner=1024, batch=8, activation="gelu"),
    # all-MiniLM-L6-v2's shape (the released-model study's), at the study's batch.
    "minilm": dict(hidden=384, layers=6, heads=12, inner=1536, batch=32, activation="gelu_exact"),
    "tiny": dict(hidden=64, layers=4, heads=2, inner=128, batch=2, activation="gelu"),  # smoke tests
}
PREDICTIONS = {128: 20, 512: 76}  # BERT's masked predictions per sequence length
SEQ, POSITIONS, VOCAB = 512, 512, 30522  # SEQ: the sequence length unless --seq says another
CONTENDERS = ("ours_baseline", "ours_token_drop", "ours_keep_all", "keras_hub_bert", "model_garden_bert")
TENSORFLOW_ONLY = ("model_garden_bert",)
# How a contender's step runs: its `compile` arguments (Keras 3 and tf_keras alike).
COMPILED = {"xla": dict(jit_compile=True), "graph": dict(jit_compile=False),
            "eager": dict(jit_compile=False, run_eagerly=True)}


def _backend():
    return keras.backend.backend()


def _on_gpu():
    if _backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "gpu"


def _batch(dims):
    seq = dims["seq"]
    return synthetic.pretraining_batch(
        dims["batch"], seq, PREDICTIONS[seq], VOCAB, min_length=seq, seed=0
    )


def _ours(dims, keep, dropout, compiled):
    encoder = TokenDropBertEncoder(
        vocab_size=VOCAB, hidden_size=dims["hidden"], num_layers=dims["layers"],
        num_attention_heads=dims["heads"], inner_dim=dims["inner"], max_sequence_length=POSITIONS,
        token_keep_k=keep, token_allow_list=(1, 2, 3, 4), token_deny_list=(0,),
        output_dropout=dropout, attention_dropout=dropout, hidden_activation=dims["activation"],
    )
    model = BertPretrainer(encoder)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), **COMPILED[compiled])
    batch = _batch(dims)
    return lambda: model.train_on_batch(batch)


def _keras_hub(dims, dropout, compiled):
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB, num_layers=dims["layers"], num_heads=dims["heads"],
        hidden_dim=dims["hidden"], intermediate_dim=dims["inner"], max_sequence_length=POSITIONS,
        dropout=dropout,
    )
    head = keras_hub.layers.MaskedLMHead(
        token_embedding=backbone.token_embedding, intermediate_activation="gelu"
    )
    inputs = {
        "token_ids": keras.Input((dims["seq"],), dtype="int32"),
        "segment_ids": keras.Input((dims["seq"],), dtype="int32"),
        "padding_mask": keras.Input((dims["seq"],), dtype="int32"),
        "mask_positions": keras.Input((PREDICTIONS[dims["seq"]],), dtype="int32"),
    }
    sequence = backbone({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")})
    logits = head(sequence["sequence_output"], mask_positions=inputs["mask_positions"])
    model = keras.Model(inputs, logits)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **COMPILED[compiled],
    )
    b = _batch(dims)
    x = {
        "token_ids": b["input_word_ids"], "segment_ids": b["input_type_ids"],
        "padding_mask": b["input_mask"], "mask_positions": b["masked_lm_positions"],
    }
    return lambda: model.train_on_batch(x, b["masked_lm_ids"], sample_weight=b["masked_lm_weights"])


def _model_garden(dims, dropout, compiled):
    import tf_keras
    from official.nlp.modeling import models, networks

    tf_keras.mixed_precision.set_global_policy(keras.config.dtype_policy().name)

    encoder = networks.BertEncoderV2(
        vocab_size=VOCAB, hidden_size=dims["hidden"], num_layers=dims["layers"],
        num_attention_heads=dims["heads"], inner_dim=dims["inner"], max_sequence_length=POSITIONS,
        type_vocab_size=2, output_dropout=dropout, attention_dropout=dropout,
    )
    pretrainer = models.BertPretrainerV2(encoder_network=encoder)

    class MaskedLMLogits(tf_keras.Model):
        def __init__(self):
            super().__init__()
            self.pretrainer = pretrainer

        def call(self, inputs):
            return self.pretrainer(inputs)["mlm_logits"]

    model = MaskedLMLogits()
    model.compile(
        optimizer=tf_keras.optimizers.Adam(1e-4),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **COMPILED[compiled],
    )
    b = _batch(dims)
    x = {k: b[k] for k in ("input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions")}
    return lambda: model.train_on_batch(x, b["masked_lm_ids"], sample_weight=b["masked_lm_weights"])


def keep_k(name, dims):
    """Tokens our contender `name` keeps through the dropping layers at
    `dims` (None: no dropping)."""
    return {"ours_token_drop": dims["seq"] // 2, "ours_keep_all": dims["seq"]}.get(name)


def build(name, dims, dropout=0.1, compiled="xla"):
    """Contender `name` at `dims`: a callable that runs one training step,
    compiled as `compiled` says (a key of `COMPILED`)."""
    if name.startswith("ours_"):
        return _ours(dims, keep_k(name, dims), dropout, compiled)
    if name == "keras_hub_bert":
        return _keras_hub(dims, dropout, compiled)
    if name == "model_garden_bert":
        return _model_garden(dims, dropout, compiled)
    raise ValueError(name)


def flops(name, dims):
    return step_flops(
        dims["hidden"], dims["layers"], dims["inner"], dims["seq"], VOCAB, PREDICTIONS[dims["seq"]],
        dims["batch"], keep_k=keep_k(name, dims),
    ).training_step


def matmul_peak(dtype="float32", repeats=10):
    """FLOP/s of one large XLA matmul on this machine, in GFLOP/s."""
    size = 8192 if _on_gpu() else 2048
    if _backend() == "jax":
        import jax
        import jax.numpy as jnp

        a = jnp.ones([size, size], dtype)
        matmul = jax.jit(lambda x: x @ x)
        run = lambda: matmul(a).block_until_ready()  # noqa: E731
    else:
        import tensorflow as tf

        a = tf.random.normal([size, size], dtype=dtype)
        matmul = tf.function(lambda x: tf.matmul(x, x), jit_compile=True)
        run = lambda: matmul(a).numpy()  # noqa: E731
    return 2 * size**3 / median_seconds(run, repeats) / 1e9


def median_seconds(run, repeats=10):
    """Median wall time of `run()` after one untimed (compiling) call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile_top_ops(step, top=8):
    """[(op, seconds, share)] of the most expensive ops in one traced step.

    Reads the trace with `jax.profiler.ProfileData` (no TensorFlow or
    TensorBoard needed). On a GPU the ops are the device plane's "XLA Ops"
    events; on a CPU the XLA thread pool's. Ops are grouped by name with
    the instance number dropped (`fusion.12` -> `fusion`).
    """
    import jax
    from jax.profiler import ProfileData

    step()  # compiled and warm before tracing
    with tempfile.TemporaryDirectory() as directory:
        with jax.profiler.trace(directory):
            step()
        (path,) = glob.glob(os.path.join(directory, "**", "*.xplane.pb"), recursive=True)
        profile = ProfileData.from_file(path)
        totals = {}
        for plane in profile.planes:
            device = plane.name.startswith("/device:")
            for line in plane.lines:
                if device and line.name != "XLA Ops":
                    continue
                if not device and not (plane.name == "/host:CPU" and line.name.startswith("tf_XLA")):
                    continue
                for event in line.events:
                    if event.name.startswith(("ThreadpoolListener", "ThunkExecutor", "end: ")):
                        continue
                    name = re.sub(r"\.\d+$", "", event.name)
                    totals[name] = totals.get(name, 0.0) + event.duration_ns / 1e9
    total = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    return [(name, seconds, seconds / total) for name, seconds in ranked]


def peak_memory_mib():
    """Peak accelerator allocation under JAX on a GPU, else peak RSS."""
    if _on_gpu():
        import jax

        return jax.local_devices()[0].memory_stats()["peak_bytes_in_use"] / 2**20
    # getrusage's maxrss survives exec: a child would report its parent's
    # peak. VmHWM belongs to this program's own address space.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_memory_of(name, args, steps):
    """Runs one contender alone in a fresh process; its peak memory in MiB."""
    out = subprocess.run(
        [sys.executable, __file__, f"--preset={args.preset}", f"--steps={steps}",
         f"--only={name}", f"--dtype={args.dtype}", f"--dropout={args.dropout}", f"--compiled={args.compiled}",
         f"--seq={args.seq}"]
        + ([f"--batch={args.batch}"] if args.batch else []),
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def _arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="12 layers x 256, batch 8")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="0: memory only")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--memory", action="store_true", help="peak memory per contender")
    parser.add_argument("--batch", type=int, default=None, help="override the preset's batch")
    parser.add_argument("--seq", type=int, default=SEQ, choices=sorted(PREDICTIONS),
                        help="sequence length (token dropping keeps half)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "mixed_bfloat16"),
                        help="Keras dtype policy of every contender")
    parser.add_argument("--dropout", type=float, default=0.1,
                        help="every dropout rate of every contender (0: fused attention)")
    parser.add_argument("--compiled", choices=sorted(COMPILED), default="xla",
                        help="how each step runs (eager: smoke runs, where compiling costs more than the steps)")
    parser.add_argument("--profile", action="store_true",
                        help="JAX: trace one step per contender, list its top ops")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.preset = args.preset or ("small" if args.small else "base")
    if args.profile and _backend() != "jax":
        parser.error("--profile needs KERAS_BACKEND=jax")
    return args


def _repeated(step):
    """`run(steps)` for `interleaved_times`: `steps` calls of `step()`
    (`train_on_batch`, which returns once its step is done)."""
    def run(steps):
        for _ in range(steps):
            step()

    return run


def _print_results(names, times, dims, peak, memory):
    base = statistics.median(times[names[0]])
    print(f"\n{'contender':<20}{'step ms':>9}{'ex/s':>8}{'GFLOP/s':>9}{'of peak':>9}"
          f"{'vs ' + names[0]:>20}{'peak MiB':>10}")
    for name in names:
        median = statistics.median(times[name])
        gflops = flops(name, dims) / median / 1e9
        print(f"{name:<20}{1000 * median:>9.1f}{dims['batch'] / median:>8.2f}{gflops:>9.0f}"
              f"{gflops / peak:>8.0%}{median / base:>20.3f}"
              f"{memory.get(name, float('nan')):>10.0f}")
    # Token dropping against the FLOP model; keeping every token, the
    # machinery's own cost (the same FLOPs as the baseline's).
    for name, what in (("ours_token_drop", "token drop"), ("ours_keep_all", "keep all")):
        if name != "ours_token_drop" and name not in names:
            continue
        flop_ratio = flops(name, dims) / flops("ours_baseline", dims)
        print(f"FLOP model: {what} / baseline = {flop_ratio:.3f}")
        if {"ours_baseline", name} <= set(names):
            measured = statistics.median(times[name]) / statistics.median(times["ours_baseline"])
            print(f"measured:   {what} / baseline = {measured:.3f} "
                  f"(difference {measured - flop_ratio:+.3f})")


def main(argv=None):
    args = _arguments(argv)
    dims = dict(PRESETS[args.preset], seq=args.seq)
    if args.batch:
        dims["batch"] = args.batch
    keras.config.set_dtype_policy(args.dtype)

    if args.only:  # child process of --memory
        step = build(args.only, dims, args.dropout, args.compiled)
        for _ in range(args.steps + 1):
            step()
        print(json.dumps({"peak_mib": peak_memory_mib()}))
        return

    names = [n for n in args.contenders.split(",")
             if _backend() == "tensorflow" or n not in TENSORFLOW_ONLY]
    print(f"preset {args.preset}: {dims}, keep {keep_k('ours_token_drop', dims)}, {PREDICTIONS[args.seq]} "
          f"predictions, {POSITIONS} positions, vocab {VOCAB}; backend {_backend()}"
          f"{' (GPU)' if _on_gpu() else ''}, {args.dtype}, dropout {args.dropout}, {args.compiled} steps")
    # Children first, while this process is still small.
    memory = {n: _peak_memory_of(n, args, 2) for n in names} if args.memory else {}
    if not args.rounds:
        for name in names:
            print(f"{name:<20} peak {memory.get(name, float('nan')):.0f} MiB")
        return
    matmul_dtype = "bfloat16" if args.dtype == "mixed_bfloat16" else "float32"
    peak = matmul_peak(matmul_dtype)
    print(f"dense matmul peak (XLA, {matmul_dtype}): {peak:.0f} GFLOP/s")
    steps = {}
    for name in names:
        start = time.time()
        steps[name] = build(name, dims, args.dropout, args.compiled)
        steps[name]()  # compile
        print(f"built and compiled {name} in {time.time() - start:.0f}s", flush=True)
    times = interleaved_times({name: _repeated(step) for name, step in steps.items()}, args.rounds, args.steps,
                              log=lambda line: print(line, flush=True))
    _print_results(names, times, dims, peak, memory)
    if args.profile:
        for name in names:
            print(f"\ntop ops of one {name} step (share of traced op time):")
            for op, seconds, share in profile_top_ops(steps[name]):
                print(f"  {op:<48}{1000 * seconds:>9.2f} ms{share:>7.1%}")


if __name__ == "__main__":
    main()
