"""GLUE's metrics against hand-computed values."""

import math

import pytest

from official_tokendrop.errors import DataError
from official_tokendrop.finetuning.metrics import glue_metrics, task_score


def test_classification_metrics_equal_the_hand_counts():
    # TP 2 (rows 0, 4), FN 1 (row 1), TN 1 (row 2), FP 1 (row 3).
    truth, predicted = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    values = glue_metrics(("accuracy", "f1", "matthews_corr"), truth, predicted)
    assert values["accuracy"] == pytest.approx(3 / 5)
    assert values["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 - 1) / sqrt(3 * 3 * 2 * 2)
    assert values["matthews_corr"] == pytest.approx(1 / 6)
    # A constant prediction: F1 of class 1 is 0, MCC 0 (scikit-learn's definitions).
    assert glue_metrics(("f1", "matthews_corr"), truth, [0] * 5) == {"f1": 0.0, "matthews_corr": 0.0}


def test_correlations_equal_the_hand_computed_ones():
    # x - 2.5 = (-1.5, -.5, .5, 1.5), y - 5 = (-3, 0, -1, 4): sum of products 10, squares 5 and 26.
    values = glue_metrics(("pearson", "spearman"), [1.0, 2.0, 3.0, 4.0], [2.0, 5.0, 4.0, 9.0])
    assert values["pearson"] == pytest.approx(10 / math.sqrt(5 * 26))
    # Ranks (1, 2, 3, 4) and (1, 3, 2, 4): 1 - 6 * 2 / (4 * 15)
    assert values["spearman"] == pytest.approx(0.8)
    assert glue_metrics(("pearson",), [1.0, 2.0], [3.0, 3.0]) == {"pearson": 0.0}


def test_task_score_is_the_mean_over_splits_and_metrics():
    assert task_score({"validation": {"f1": 0.9, "accuracy": 0.8}}) == pytest.approx(0.85)
    assert task_score({"validation_matched": {"accuracy": 0.8},
                       "validation_mismatched": {"accuracy": 0.7}}) == pytest.approx(0.75)
    with pytest.raises(DataError, match="as many predictions as labels"):
        glue_metrics(("accuracy",), [1, 0], [1])
