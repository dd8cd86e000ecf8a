"""Fine-tuning on SQuAD v1.1 / v2.0 and scoring on its dev file.

    results = run_squad(load_pretrained("runs/demo/export"), "2.0", "train-v2.0.json",
                        "dev-v2.0.json", "runs/squad2", learning_rate=5e-5, epochs=2,
                        batch_size=32, seed=0)
    results["exact_match"], results["f1"], results["best_f1_thresh"]

The files are read and checked (`squad_files`), cut into windows of the
pretrained model's own word pieces (`squad_features`, Model Garden's
`squad_lib`), a `models.BertSpanLabeler` on a copy of the pretrained
backbone is trained with `model.fit` (fine-tuning's AdamW, warm-up and
decay: `finetuning.training.adamw`), and the dev file's answers are
searched, scored and written (`squad_predictions`).
Everything a user can get wrong is checked before training starts.
"""

import time

import tensorflow as tf

from official_tokendrop.finetuning.squad_features import WordPieces, squad_windows
from official_tokendrop.finetuning.squad_files import check_version, read_squad
from official_tokendrop.finetuning.squad_predictions import (
    check_output_dir, nbest_answers, score, write_predictions,
)
from official_tokendrop.finetuning.training import adamw, check_settings, training_steps
from official_tokendrop.models.bert_span_labeler import BertSpanLabeler


def run_squad(pretrained, version, train_file, predict_file, output_dir, *, learning_rate, epochs, batch_size,
              seed, sequence_length=384, doc_stride=128, max_query_length=64, max_answer_length=30,
              n_best_size=20):
    """Fine-tunes `pretrained` on `train_file`, answers `predict_file`'s
    questions and scores them.

    Args:
        pretrained: `finetuning.pretrained.Pretrained` (backbone and
            tokenizer; the backbone is copied, never trained in place).
        version: str. "1.1" or "2.0" (impossible questions).
        train_file, predict_file: str. Official SQuAD JSON files; the
            predict file's answers are what the predictions are scored on.
        output_dir: str. Gets predictions.json, nbest_predictions.json and
            (v2.0) null_odds.json, each whole.
        learning_rate: float. Peak AdamW learning rate.
        epochs: int. Passes over the training windows.
        batch_size: int. Windows per step.
        seed: int. Orders the training windows; the head's initialisation
            and dropout follow Keras' global seed, which the program sets.
        sequence_length: int. Word pieces per window.
        doc_stride: int. Word pieces between the starts of a context's
            windows.
        max_query_length: int. A question's word pieces kept.
        max_answer_length: int. Longest answer searched, in word pieces.
        n_best_size: int. Start and end positions tried per window, and
            answers kept per question in nbest_predictions.json.

    Returns:
        The scores under the official scripts' names (percent):
        `exact_match`, `f1`; for v2.0 also `best_exact`, `best_f1`, their
        thresholds, the has-answer / no-answer breakdown and
        `null_score_diff_threshold`, the threshold the predictions use; and
        the run's counts, settings and time.
    """
    check_version(version)
    settings = dict(learning_rate=learning_rate, epochs=epochs, batch_size=batch_size,
                    sequence_length=sequence_length, doc_stride=doc_stride, max_query_length=max_query_length,
                    max_answer_length=max_answer_length, n_best_size=n_best_size)
    check_settings(**settings)
    pretrained.check_sequence_length(sequence_length)
    check_output_dir(output_dir)
    train, dev = read_squad(train_file, version, training=True), read_squad(predict_file, version, training=False)
    pieces = WordPieces(pretrained.tokenizer)
    shape = dict(sequence_length=sequence_length, doc_stride=doc_stride, max_query_length=max_query_length)
    train_windows, dev_windows = squad_windows(train, pieces, **shape), squad_windows(dev, pieces, **shape)

    model = span_labeler(pretrained, learning_rate, training_steps(len(train_windows), batch_size, epochs))
    final_loss, train_seconds = fit_windows(model, train_windows, batch_size=batch_size, epochs=epochs, seed=seed)
    logits = model.predict(dev_windows.inputs(), batch_size=batch_size, verbose=0)
    texts, nbest, null_odds = nbest_answers(dev, dev_windows, logits, n_best_size=n_best_size,
                                            max_answer_length=max_answer_length, lowercase=pieces.lowercase)
    predictions, scores = score(dev, texts, null_odds)
    write_predictions(output_dir, predictions, nbest, null_odds)
    return {
        **scores, "version": version, "train_file": train_file, "predict_file": predict_file,
        "train_questions": len(train), "train_windows": len(train_windows),
        "predict_questions": len(dev), "predict_windows": len(dev_windows), **settings, "seed": seed,
        "final_loss": final_loss, "train_seconds": train_seconds,
    }


def fit_windows(model, windows, *, batch_size, epochs, seed):
    """(final loss, seconds) of training `model` on `windows`, shuffled by
    `seed` each epoch."""
    data = tf.data.Dataset.from_tensor_slices((windows.inputs(), windows.labels()))
    data = data.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    start = time.time()
    history = model.fit(data, epochs=epochs, shuffle=False, verbose=2)  # shuffled above, by `seed`
    return float(history.history["loss"][-1]), time.time() - start


def span_labeler(pretrained, learning_rate, steps):
    """A `BertSpanLabeler` on a fresh copy of `pretrained`'s backbone,
    compiled with fine-tuning's AdamW and schedule over `steps`."""
    backbone = pretrained.fresh_backbone()
    # Spans are read from the sequence output: the pooler gets no gradient.
    backbone.get_layer("pooled_dense").trainable = False
    model = BertSpanLabeler(backbone)
    model.compile(optimizer=adamw(learning_rate, steps))
    return model
