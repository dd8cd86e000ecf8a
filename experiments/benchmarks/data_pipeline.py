"""Conversion and reading throughput: ours vs Model Garden's converter.

Converts the same text with the same settings through
`official_tokendrop.data.create_pretraining_data` and tf-models-official's
`official.nlp.data.create_pretraining_data`, each both in this process
(the conversion work alone) and as a command-line program (Python and
TensorFlow start-up included), and prints sequences/s and the ratios. Then
reads our TFRecords with our reader and prints examples/s next to the
training rate of a small token-dropping model on the same shapes.

    .venv/bin/python experiments/benchmarks/data_pipeline.py \
        --input_files='../shared/data/corpus/*.txt' --max_lines=120000
"""

import argparse
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from official_tokendrop.data import create_pretraining_data as cpd  # noqa: E402
from official_tokendrop.data.documents import ReadReport, text_lines  # noqa: E402
from official_tokendrop.data.pretrain_dataloader import pretrain_dataset  # noqa: E402
from official_tokendrop.data.vocabulary import load_vocabulary  # noqa: E402
from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder  # noqa: E402


def _sample_text(patterns, max_lines, path):
    """The first `max_lines` lines, taken evenly from every input file, read
    as the converter reads a corpus (undecodable lines skipped and named)."""
    files = sorted(f for p in patterns.split(",") for f in glob.glob(p))
    if not files:
        raise SystemExit(f"--input_files {patterns!r} matches no file")
    per_file, report = max_lines // len(files), ReadReport()
    with open(path, "w", encoding="utf-8") as out:
        for name in files:
            for i, line in enumerate(text_lines(name, report)):
                if i >= per_file:
                    break
                out.write(line + "\n")
            out.write("\n")
    if report.undecodable:
        print(report.skipped())
    return files


def _timed(command):
    start = time.time()
    result = subprocess.run(command, env=ENV, capture_output=True, text=True)
    seconds = time.time() - start
    if result.returncode:
        raise SystemExit(f"{command[2]} failed:\n{result.stderr[-3000:]}")
    return seconds, result


def _count_records(pattern):
    return sum(1 for f in glob.glob(pattern) for _ in tf.data.TFRecordDataset(f))


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input_files", default="../shared/data/corpus/*.txt")
    parser.add_argument("--max_lines", type=int, default=120000)
    parser.add_argument("--vocab_file", default=None)
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--max_predictions_per_seq", type=int, default=20)
    parser.add_argument("--read_batches", type=int, default=200)
    parser.add_argument("--train_steps", type=int, default=20)
    return parser.parse_args()


def _compare_conversions(text, vocab, work, common, args):
    """Prints ours vs Model Garden's conversion rate, in this process and
    as programs."""
    # Same settings as Model Garden's converter: sentence pairs with
    # next-sentence labels, no packing, token-level masking, v1 names.
    ours_flags = [f"--input_files={text}", f"--seq_length={args.seq_length}",
                  "--next_sentence", "--nopack_sequences", "--nouse_v2_feature_names", *common]
    mg_flags = [f"--input_file={text}", f"--max_seq_length={args.seq_length}",
                "--short_seq_prob=0", *common]
    rows = []
    ours_n, ours_s = _ours_in_process(text, vocab, os.path.join(work, "ours_inproc"), args)
    mg_n, mg_s = _mg_in_process(text, vocab, os.path.join(work, "mg_inproc.tfrecord"), args)
    rows.append(("in process (conversion only)", ours_n / ours_s, mg_n / mg_s, ours_n, mg_n))
    ours_cli_s, result = _timed(
        [sys.executable, "-m", "official_tokendrop.data.create_pretraining_data",
         f"--output_dir={os.path.join(work, 'ours')}", *ours_flags]
    )
    mg_file = os.path.join(work, "mg.tfrecord")
    mg_cli_s, _ = _timed(
        [sys.executable, "-m", "official.nlp.data.create_pretraining_data",
         f"--output_file={mg_file}", *mg_flags]
    )
    rows.append(("program (incl. start-up)", ours_n / ours_cli_s, _count_records(mg_file) / mg_cli_s,
                 json.loads(result.stdout)["sequences"], _count_records(mg_file)))
    print("\n== conversion: same text, same settings (seq/s) ==")
    print(f"{'timing':<32}{'ours':>10}{'tf-models':>11}{'ratio':>8}{'seqs ours/theirs':>20}")
    for name, ours, theirs, n_ours, n_theirs in rows:
        print(f"{name:<32}{ours:>10.0f}{theirs:>11.0f}{ours / theirs:>7.1f}x{n_ours:>11}/{n_theirs}")


def main():
    args = _arguments()
    work = tempfile.mkdtemp(prefix="data_bench_")
    text = os.path.join(work, "text.txt")
    files = _sample_text(args.input_files, args.max_lines, text)
    print(f"corpus: {args.max_lines} lines from {len(files)} file(s) -> {text}")
    vocab = args.vocab_file
    if vocab is None:
        vocab = os.path.join(work, "vocab.txt")
        subprocess.run(
            [sys.executable, "-m", "official_tokendrop.data.vocabulary",
             f"--input_files={text}", "--vocab_size=8000", "--max_lines=20000",
             f"--output_file={vocab}"],
            env=ENV, check=True, capture_output=True,
        )
    common = [f"--vocab_file={vocab}", f"--max_predictions_per_seq={args.max_predictions_per_seq}",
              "--dupe_factor=1", "--masked_lm_prob=0.15", "--random_seed=1"]

    _compare_conversions(text, vocab, work, common, args)

    packed_dir = os.path.join(work, "packed")
    packed_s, result = _timed(
        [sys.executable, "-m", "official_tokendrop.data.create_pretraining_data",
         f"--input_files={text}", f"--output_dir={packed_dir}", f"--seq_length={args.seq_length}",
         "--num_shards=4", *common]
    )
    packed = json.loads(result.stdout)
    print(f"ours, packed (the reference setting): {packed['sequences']} sequences in "
          f"{packed_s:.1f}s, real-token fraction {packed['real_token_fraction']:.3f}")

    _reader_vs_training(packed_dir, vocab, args)


def _ours_in_process(text, vocab, output_dir, args):
    options = cpd.ConversionOptions(
        seq_length=args.seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
        random_seed=1, next_sentence=True, pack_sequences=False, use_v2_feature_names=False,
    )
    summary = cpd.convert([text], vocab, output_dir, options)
    return summary["sequences"], summary["seconds"]


def _mg_in_process(text, vocab, output_file, args):
    from official.nlp.data import create_pretraining_data as mg
    from official.nlp.tools import tokenization

    start = time.time()
    tokenizer = tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)
    instances = mg.create_training_instances(
        [text], tokenizer, mg.get_processor_text_fn(False, True), args.seq_length,
        1, 0.0, 0.15, args.max_predictions_per_seq, random.Random(1),
    )
    mg.write_instance_to_example_files(
        instances, tokenizer, args.seq_length, args.max_predictions_per_seq,
        [output_file], False, False,
    )
    return len(instances), time.time() - start


def _reader_vs_training(packed_dir, vocab_file, args):
    batch = 32
    dataset = pretrain_dataset(
        os.path.join(packed_dir, "*.tfrecord"), batch, args.seq_length,
        args.max_predictions_per_seq, seed=0,
    )
    iterator = iter(dataset)
    next(iterator)
    start = time.time()
    for _ in range(args.read_batches):
        next(iterator)
    read_rate = args.read_batches * batch / (time.time() - start)

    vocab = load_vocabulary(vocab_file)
    encoder = TokenDropBertEncoder(
        vocab_size=len(vocab), hidden_size=256, num_layers=4, num_attention_heads=4,
        inner_dim=1024, max_sequence_length=args.seq_length, token_keep_k=args.seq_length // 2,
        token_allow_list=vocab.token_allow_list, token_deny_list=vocab.token_deny_list,
    )
    model = BertPretrainer(encoder)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4), jit_compile=True)
    fixed = next(iter(dataset))
    steps = tf.data.Dataset.from_tensors(fixed).repeat()
    model.fit(steps, steps_per_epoch=2, epochs=1, verbose=0)  # compile
    start = time.time()
    model.fit(steps, steps_per_epoch=args.train_steps, epochs=1, verbose=0)
    train_rate = args.train_steps * batch / (time.time() - start)
    print("\n== reader vs training (batch 32, seq %d) ==" % args.seq_length)
    print(f"reader (parse, shuffle, batch):            {read_rate:10.0f} examples/s")
    print(f"training, 4x256 token-drop BERT (fit+XLA): {train_rate:10.0f} examples/s")
    print(f"reader / training: {read_rate / train_rate:.1f}x")


if __name__ == "__main__":
    main()
