"""SQuAD answers from span logits, their official scores, v2.0's no-answer
threshold, and the prediction files.

    texts, nbest, null_odds = nbest_answers(squad, windows, logits, n_best_size=20,
                                            max_answer_length=30, lowercase=True)
    predictions, scores = score(squad, texts, null_odds)
    write_predictions(output_dir, predictions, nbest, null_odds)

The n-best search is Model Garden's `squad_lib.postprocess_output` (BERT's):
the `n_best_size` best start and end positions of each window, spans inside
the context, starting in the window with the most context around them, at
most `max_answer_length` pieces long, mapped back to the context's own
characters (`get_final_text`). For v2.0 it also gives each question's null
odds: the [CLS] span's score (the lowest over its windows) minus the best
span's; a question is answered "" when its odds exceed the threshold.

The scores are Model Garden's copies of the official evaluation scripts
(`official.nlp.tools.squad_evaluate_v1_1`, `squad_evaluate_v2_0`: their
normalisation of case, punctuation, articles and spaces), reported under
the official scripts' names, in percent.

v2.0's threshold is chosen on the predicted file, as the official script's
best-threshold search does (`best_f1_thresh`): the search is given every
question's best non-empty answer and its null odds, so each candidate
threshold is scored exactly; `predictions.json` then holds the answers at
that threshold and `exact_match` / `f1` are its scores (`f1` equals
`best_f1`). This tunes one number on the dev set, as BERT's results do.
"""

import collections
import contextlib
import json
import math
import os

from official.nlp.data import squad_lib
from official.nlp.tools import squad_evaluate_v1_1, squad_evaluate_v2_0

from official_tokendrop.errors import OutputExistsError
from official_tokendrop.utils.outputs import whole, writing

RawResult = collections.namedtuple("RawResult", ["unique_id", "start_logits", "end_logits"])
PREDICTIONS, NBEST, NULL_ODDS = "predictions.json", "nbest_predictions.json", "null_odds.json"
# The official v2.0 script's names for its has-answer / no-answer breakdown.
BREAKDOWN = ("HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1", "NoAns_total")


def nbest_answers(squad, windows, logits, *, n_best_size, max_answer_length, lowercase):
    """Each question's best answer, its n-best list and (v2.0) null odds.

    Args:
        squad: the `squad_files.SquadFile` the windows were built from.
        windows: its `squad_features.Windows`.
        logits: `[windows, 2, sequence]` start and end logits
            (`BertSpanLabeler`'s output).
        n_best_size: int. Start and end positions tried per window, and
            the length of each question's n-best list.
        max_answer_length: int. Longest answer, in word pieces.
        lowercase: bool. Whether the tokenizer lower-cases (how the
            predicted pieces are matched back to the context).

    Returns:
        `(texts, nbest, null_odds)`: dicts by question id; `texts` are the
        best non-empty answers (v2.0 too: `score` applies the threshold),
        `null_odds` is empty for v1.1.
    """
    results = [RawResult(feature.unique_id, row[0].tolist(), row[1].tolist())
               for feature, row in zip(windows.features, logits)]
    return squad_lib.postprocess_output(
        squad.examples, windows.features, results, n_best_size, max_answer_length, lowercase,
        version_2_with_negative=squad.version == "2.0",
        null_score_diff_threshold=math.inf,
    )


def score(squad, texts, null_odds):
    """`(predictions, scores)`: the answers written to predictions.json and
    their official scores (see the module docstring)."""
    if squad.version == "1.1":
        official = squad_evaluate_v1_1.evaluate(squad.articles, texts)
        return texts, {"exact_match": 100.0 * official["exact_match"], "f1": 100.0 * official["final_f1"]}
    best = best_threshold(squad, texts, null_odds)
    threshold = best["best_f1_thresh"]
    predictions = answers_at(texts, null_odds, threshold)
    official = squad_evaluate_v2_0.evaluate(squad.articles, predictions)
    scores = {"exact_match": official["exact"], "f1": official["f1"], "total": official["total"]}
    scores.update((name, official[name]) for name in BREAKDOWN if name in official)
    return predictions, {**scores, **best, "null_score_diff_threshold": threshold}


def best_threshold(squad, texts, null_odds):
    """The official v2.0 script's best-threshold search over `null_odds`
    for the non-empty answers `texts`: the best exact match and F1 on
    `squad`, each with its threshold."""
    official = squad_evaluate_v2_0.evaluate(squad.articles, texts, null_odds)
    return {
        "best_exact": official["final_exact"], "best_exact_thresh": official["final_exact_thresh"],
        "best_f1": official["final_f1"], "best_f1_thresh": official["final_f1_thresh"],
    }


def answers_at(texts, null_odds, threshold):
    """The answers at `threshold`: "" where a question's null odds exceed it
    (the rule of `postprocess_output` and of the official script)."""
    return {qid: "" if null_odds[qid] > threshold else text for qid, text in texts.items()}


def check_output_dir(output_dir):
    """`output_dir` can hold the prediction files (checked before training)."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise OutputExistsError(f"The SQuAD output directory {output_dir} is a file.")


def write_predictions(output_dir, predictions, nbest, null_odds=None):
    """Writes predictions.json, nbest_predictions.json and (v2.0)
    null_odds.json into `output_dir`: each is written beside its place
    first, and all are moved into place once all are written, so a failed
    write leaves the files of an earlier run as they were."""
    check_output_dir(output_dir)
    with writing("the SQuAD output directory", output_dir):
        os.makedirs(output_dir, exist_ok=True)
    files = {PREDICTIONS: predictions, NBEST: nbest}
    if null_odds:
        files[NULL_ODDS] = null_odds
    with contextlib.ExitStack() as stack:
        for name, content in files.items():
            temporary = stack.enter_context(whole(f"SQuAD {name}", os.path.join(output_dir, name)))
            with open(temporary, "w", encoding="utf-8") as f:
                json.dump(content, f, indent=2, ensure_ascii=False)
    return {name: os.path.join(output_dir, name) for name in files}
