"""GLUE's official metrics, and one score per task for the tables.

    glue_metrics(("f1", "accuracy"), truth, predicted)
    # {"f1": 0.8, "accuracy": 0.75}

The values are scikit-learn's and SciPy's (the functions GLUE's own
evaluation and transformers' `glue_compute_metrics` call): Matthews
correlation for CoLA, F1 of the positive class ("1") for MRPC and QQP,
Pearson and Spearman correlations for STS-B, accuracy otherwise. Values are
fractions (0.853), not percentages.
"""

import numpy as np
import scipy.stats
import sklearn.metrics

from official_tokendrop.errors import DataError


def _correlation(function):
    def correlation(truth, predicted):
        if np.ptp(truth) == 0 or np.ptp(predicted) == 0:
            # Undefined for a constant; SciPy warns and returns NaN.
            return 0.0
        return float(function(truth, predicted)[0])

    return correlation


METRICS = {
    "accuracy": lambda truth, predicted: float(np.mean(truth == predicted)),
    "f1": lambda truth, predicted: float(sklearn.metrics.f1_score(truth, predicted, pos_label=1,
                                                                  zero_division=0.0)),
    # 0 when either side is constant, as scikit-learn defines it.
    "matthews_corr": lambda truth, predicted: float(sklearn.metrics.matthews_corrcoef(truth, predicted)),
    "pearson": _correlation(scipy.stats.pearsonr),
    "spearman": _correlation(scipy.stats.spearmanr),
}


def glue_metrics(names, truth, predicted):
    """{name: value} of each metric in `names` (keys of `METRICS`) of
    `predicted` against `truth` (class ids, or scores for STS-B)."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if truth.shape != predicted.shape or not len(truth):
        raise DataError(f"metrics need as many predictions as labels (>0): {truth.shape} vs {predicted.shape}.")
    return {name: METRICS[name](truth, predicted) for name in names}


def task_score(results):
    """One number per task, as GLUE's leaderboard scores it: the mean of its
    metrics (MRPC's F1 and accuracy, STS-B's two correlations) over its dev
    splits (MNLI's matched and mismatched). `results` maps each dev split to
    its {metric: value}."""
    return float(np.mean([value for split in results.values() for value in split.values()]))
