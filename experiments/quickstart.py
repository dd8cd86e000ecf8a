"""Pretrains a small token-dropping BERT with `model.fit` under XLA.

Synthetic Model Garden-format batches; prints the loss falling, how many
tokens the middle layers saw, and checks that the exported keras-hub BERT
computes what the encoder computes at inference.

    .venv/bin/python experiments/quickstart.py [--steps 200]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from official_tokendrop.utils import synthetic  # noqa: E402
from official_tokendrop.interop.keras_hub import to_keras_hub  # noqa: E402
from official_tokendrop.models import BertPretrainer, TokenDropBertEncoder  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--seq_length", type=int, default=64)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    vocab, predictions = 1000, 10
    encoder = TokenDropBertEncoder(
        vocab_size=vocab,
        hidden_size=64,
        num_layers=6,
        num_attention_heads=4,
        inner_dim=128,
        max_sequence_length=args.seq_length,
        token_keep_k=args.seq_length // 2,
        token_allow_list=(1, 2, 3, 4),
        token_deny_list=(0,),
    )
    model = BertPretrainer(encoder)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=True)
    batches = [
        synthetic.pretraining_batch(
            args.batch_size, args.seq_length, predictions, vocab, seed=s
        )
        for s in range(8)
    ]
    dataset = tf.data.Dataset.from_tensor_slices(
        {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    ).batch(args.batch_size, drop_remainder=True).repeat()
    epochs = 4
    model.fit(dataset, steps_per_epoch=max(1, args.steps // epochs), epochs=epochs, verbose=2)

    sample = batches[0]
    keep, _ = encoder.select_tokens(sample["input_word_ids"], sample["input_mask"])
    print(
        f"middle layers saw {keep.shape[1]} of {args.seq_length} positions "
        f"per example ({encoder.first_drop_layer}..{encoder.last_drop_layer} "
        "of layers 0..5)"
    )
    inputs = {k: sample[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    ours = encoder(inputs, training=False)["sequence_output"]
    hub = to_keras_hub(encoder)(
        {
            "token_ids": inputs["input_word_ids"],
            "segment_ids": inputs["input_type_ids"],
            "padding_mask": inputs["input_mask"],
        }
    )["sequence_output"]
    print(f"exported keras-hub BertBackbone max |diff|: {np.abs(ours - hub).max():.2e}")


if __name__ == "__main__":
    main()
