"""Counting errors and grading figures (LDL definitions, Cohen's kappa) on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from acnekit.metrics.counting import count_errors
from acnekit.metrics.grading import cohen_kappa, confusion_matrix, grading_metrics


def test_count_errors_hand_made():
    out = count_errors([3, 10, 0], [5, 7, 0])  # errors +2, -3, 0
    assert out["mae"] == pytest.approx(5 / 3)
    assert out["mse"] == pytest.approx(13 / 3)
    assert out["rmse"] == pytest.approx(np.sqrt(13 / 3))  # RMSE is the root, MSE is not
    assert out["mean_error"] == pytest.approx(-1 / 3)


def test_count_errors_perfect_and_empty():
    assert count_errors([4, 0, 9], [4, 0, 9])["mae"] == 0.0
    assert count_errors([], [])["mae"] is None
    with pytest.raises(ValueError, match="same shape"):
        count_errors([1, 2], [1])


# counts chosen to give true grades [0, 0, 1, 1, 2, 3] and predicted [0, 1, 1, 1, 2, 2]
GT_COUNTS = [0, 5, 6, 20, 21, 51]
PRED_COUNTS = [5, 6, 20, 6, 50, 49]


def test_confusion_matrix_rows_are_truth():
    g = grading_metrics(GT_COUNTS, PRED_COUNTS)
    assert g["confusion_matrix"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]]
    assert g["labels"] == ["0-5", "6-20", "21-50", ">50"]


def test_ldl_figures_hand_made():
    g = grading_metrics(GT_COUNTS, PRED_COUNTS)
    assert g["accuracy"] == pytest.approx(4 / 6)
    # precision per grade 1, 2/3, 1/2, 0 (grade 3 never predicted), averaged over GT grades
    assert g["precision_macro"] == pytest.approx((1 + 2 / 3 + 1 / 2 + 0) / 4)
    assert g["sensitivity_macro"] == pytest.approx((1 / 2 + 1 + 1 + 0) / 4)
    assert g["specificity_macro"] == pytest.approx((1 + 3 / 4 + 4 / 5 + 1) / 4)
    assert g["youden_index"] == pytest.approx(0.625 + 0.8875 - 1)
    assert g["zero_division"] == ["precision of grade 3"]
    assert g["per_grade"][1]["specificity"] == pytest.approx(3 / 4)


def test_kappa_hand_made():
    g = grading_metrics(GT_COUNTS, PRED_COUNTS)
    assert g["kappa"] == pytest.approx(14 / 26)
    assert g["kappa_linear"] == pytest.approx(2 / 3)
    assert g["kappa_quadratic"] == pytest.approx(46 / 58)


def test_kappa_edge_cases():
    assert cohen_kappa(np.diag([3, 4, 5])) == 1.0
    assert cohen_kappa(np.array([[5, 0], [0, 0]]), "quadratic") == 1.0  # one grade, full agreement
    assert cohen_kappa(np.zeros((3, 3))) is None
    # systematic swap of two grades: worse than chance
    assert cohen_kappa(np.array([[0, 5], [5, 0]])) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa(np.eye(2), "cubic")


def test_perfect_grading_and_custom_bands():
    g = grading_metrics([0, 2, 3, 9], [0, 2, 3, 9], bands=(2, 4))
    assert g["confusion_matrix"] == [[2, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert g["accuracy"] == 1.0 and g["youden_index"] == 1.0 and g["kappa_quadratic"] == 1.0
    assert g["labels"] == ["0-2", "3-4", ">4"]


def test_confusion_matrix_rejects_out_of_range():
    with pytest.raises(ValueError, match="grades"):
        confusion_matrix([0, 4], [0, 1], 4)
