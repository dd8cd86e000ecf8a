"""A few pretraining steps of a tiny pretrainer on whatever Keras backend runs.

Imported by the tests (TensorFlow backend) and run as a program under
`KERAS_BACKEND=jax`, so both backends start from the same weights file and
batch and their results can be compared number for number.

    KERAS_BACKEND=jax python tests/models/pretrainer_steps.py WEIGHTS OUT.npz
"""

import os
import sys

import numpy as np

# conftest (the tiny model and batch) lives in the tests root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STEPS = 3


def build():
    import keras

    from conftest import batch, tiny_encoder
    from official_tokendrop.models import BertPretrainer

    model = BertPretrainer(tiny_encoder())
    model.compile(optimizer=keras.optimizers.AdamW(1e-2, weight_decay=0.01), jit_compile=True)
    return model, batch(8, seed=5)


def run(weights_path):
    """Loads `weights_path`, trains STEPS steps, evaluates; returns arrays."""
    model, features = build()
    model.load_weights(weights_path)
    losses = [float(model.train_on_batch(features, return_dict=True)["loss"]) for _ in range(STEPS)]
    evaluated = model.evaluate(features, batch_size=len(features["input_word_ids"]), verbose=0, return_dict=True)
    results = {
        "train_loss": np.array(losses),
        "eval_mlm_loss": np.array(evaluated["mlm_loss"]),
        "eval_mlm_accuracy": np.array(evaluated["mlm_accuracy"]),
        "iterations": np.array(int(model.optimizer.iterations.numpy())),
    }
    # Auto-generated layer names differ between processes; order does not.
    for index, variable in enumerate(model.weights):
        results[f"weight_{index}"] = np.asarray(variable.numpy())
    return results


if __name__ == "__main__":
    np.savez(sys.argv[2], **run(sys.argv[1]))
