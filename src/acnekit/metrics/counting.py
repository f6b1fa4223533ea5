"""Counting metrics: per-image count error (predicted - true) and its summaries.

MSE is the mean squared error and RMSE its square root. (LDL's published code prints the
square root under the name "MSE"; compare their "MSE" with our RMSE.)
"""

from __future__ import annotations

import numpy as np


def count_errors(gt_counts, pred_counts) -> dict:
    """MAE, MSE, RMSE and mean signed error (bias) of per-image counts."""
    gt = np.asarray(gt_counts, dtype=np.float64)
    pred = np.asarray(pred_counts, dtype=np.float64)
    if gt.shape != pred.shape or gt.ndim != 1:
        raise ValueError(f"count arrays must have the same shape (n,), got {gt.shape} and {pred.shape}")
    if len(gt) == 0:
        return {"images": 0, "mae": None, "mse": None, "rmse": None, "mean_error": None}
    err = pred - gt
    mse = float(np.mean(err**2))
    return {
        "images": int(len(gt)),
        "mae": float(np.mean(np.abs(err))),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mean_error": float(np.mean(err)),
    }
