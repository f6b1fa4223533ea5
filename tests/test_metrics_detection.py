"""AP (COCO 101-point), P/R/F1 at a threshold, best F1, size errors: hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from acnekit.metrics.detection import average_precision, best_f1, prf_at, size_errors


def test_ap_hand_made():
    # 2 ground truths; ranked predictions: TP, FP, TP
    # PR points (0.5, 1), (0.5, 0.5), (1, 2/3): interpolated precision 1 up to recall 0.5
    # (51 recall points), 2/3 from 0.51 to 1 (50 points)
    out = average_precision([[True, False, True]], [0.9, 0.8, 0.7], n_gt=2)
    assert out["ap"][0] == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert out["precision"].shape == (1, 101)
    assert out["score"][0, 0] == 0.9 and out["score"][0, -1] == 0.7


def test_ap_uses_score_order_not_input_order():
    a = average_precision([[True, False, True]], [0.9, 0.8, 0.7], 2)["ap"]
    b = average_precision([[True, True, False]], [0.7, 0.9, 0.8], 2)["ap"]
    assert a == pytest.approx(b)


def test_ap_perfect_partial_and_empty():
    assert average_precision([[True] * 4], [0.9, 0.8, 0.7, 0.6], 4)["ap"][0] == 1.0
    # all predictions right but only half the lesions found: precision 1 up to recall 0.5
    assert average_precision([[True, True]], [0.9, 0.8], 4)["ap"][0] == pytest.approx(51 / 101)
    assert average_precision(np.zeros((1, 0), bool), np.zeros(0), 3)["ap"][0] == 0.0
    assert np.isnan(average_precision([[False]], [0.5], 0)["ap"][0])


def test_ap_several_thresholds_rowwise():
    tp = np.array([[True, True], [True, False]])
    ap = average_precision(tp, [0.9, 0.8], 2)["ap"]
    assert ap[0] == 1.0 and ap[1] == pytest.approx(51 / 101)


def test_fp_before_tp_lowers_ap():
    ap = average_precision([[False, True]], [0.9, 0.8], 1)["ap"][0]
    assert ap == pytest.approx(0.5)


def test_prf_at_threshold():
    tp = np.array([True, False, True, False])
    s = np.array([0.9, 0.8, 0.4, 0.3])
    r = prf_at(tp, s, n_gt=3, threshold=0.5)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 2)
    assert r["precision"] == 0.5 and r["recall"] == pytest.approx(1 / 3)
    assert r["f1"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    none = prf_at(tp, s, 3, threshold=0.95)
    assert none["precision"] is None and none["recall"] == 0 and none["f1"] == 0


def test_best_f1_picks_cut_and_keeps_ties_together():
    tp = np.array([True, True, False, False, True])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    b = best_f1(tp, s, n_gt=3)
    # cut at 0.8: F1 = 4/5; cut at 0.5: F1 = 6/8
    assert b["threshold"] == 0.8 and b["f1"] == pytest.approx(0.8)
    tied = best_f1(np.array([True, False, True]), np.array([0.5, 0.5, 0.5]), 2)
    assert tied["threshold"] == 0.5 and tied["tp"] == 2 and tied["fp"] == 1
    assert best_f1(np.zeros(0, bool), np.zeros(0), 2) is None


def test_size_errors_px_and_mm():
    out = size_errors(np.array([10.0, 20.0]), np.array([12.0, 17.0]), np.array([1.0, 3.0]), px_per_mm=10.0)
    assert out["pairs"] == 2
    assert out["radius_mae_px"] == 2.5 and out["radius_bias_px"] == -0.5
    assert out["radius_mae_mm"] == 0.25 and out["centre_distance_mean_px"] == 2.0
    assert size_errors(np.zeros(0), np.zeros(0), np.zeros(0), None)["radius_mae_px"] is None
