"""Grading metrics: grades from counts (Hayashi bands), confusion matrix, accuracy, the
LDL figures (Wu et al., ICCV 2019) and Cohen's kappa.

LDL's definitions, as in their published code:

* precision of a grade: the fraction of images predicted as that grade that truly have it;
  the macro precision averages it over the grades present in the ground truth;
* sensitivity (recall) TP / (TP + FN) and specificity TN / (TN + FP) of each grade,
  macro-averaged over the grades present in the ground truth or the prediction;
* Youden index = sensitivity + specificity - 1 (per grade, and of the macro averages).

Where LDL's code would divide by zero (a grade never predicted, or never absent) we count
the figure as 0 and say so in ``zero_division``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from acnekit.grading import HAYASHI_UPPER, band_labels, hayashi_grade


def confusion_matrix(gt, pred, n_classes: int) -> np.ndarray:
    """(K, K) int counts; rows are the true grade, columns the predicted grade."""
    gt = np.asarray(gt, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    if gt.shape != pred.shape:
        raise ValueError(f"gt and pred must have the same shape, got {gt.shape} and {pred.shape}")
    for name, a in (("gt", gt), ("pred", pred)):
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(f"{name} grades must be in [0, {n_classes - 1}], got {a.min()}..{a.max()}")
    return np.bincount(gt * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def cohen_kappa(conf: np.ndarray, weights: str | None = None) -> float | None:
    """Cohen's kappa of a confusion matrix; ``weights`` None, ``"linear"`` or ``"quadratic"``.

    Perfect agreement gives 1 even when a single grade occurs; None for an empty matrix.
    """
    conf = np.asarray(conf, dtype=np.float64)
    k = conf.shape[0]
    n = conf.sum()
    if n == 0:
        return None
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(np.float64)
    elif weights == "linear":
        w = np.abs(i - j) / max(k - 1, 1)
    elif weights == "quadratic":
        w = ((i - j) / max(k - 1, 1)) ** 2
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    expected = np.outer(conf.sum(axis=1), conf.sum(axis=0)) / n
    observed_d = float((w * conf).sum())
    expected_d = float((w * expected).sum())
    if expected_d == 0:
        return 1.0 if observed_d == 0 else None
    return 1.0 - observed_d / expected_d


def grading_metrics(gt_counts, pred_counts, bands: Sequence[int] = HAYASHI_UPPER) -> dict:
    """Grade both count arrays with ``bands`` and compare the grades."""
    gt = hayashi_grade(np.asarray(gt_counts), bands)
    pred = hayashi_grade(np.asarray(pred_counts), bands)
    out = grade_agreement(gt, pred, len(bands) + 1, band_labels(bands))
    for p in out["per_grade"]:
        p["counts"] = p["label"]
    return {"bands": list(bands), **out}


def grade_agreement(gt_grades, pred_grades, n_grades: int, labels: Sequence[str] | None = None) -> dict:
    """Compare grades 0..n_grades-1: accuracy, LDL's macro figures, kappas, confusion matrix.

    ``labels`` names each grade in the result (default: the grade numbers as text)."""
    k = int(n_grades)
    labels = [str(g) for g in range(k)] if labels is None else list(labels)
    if len(labels) != k:
        raise ValueError(f"labels must have {k} entries, got {len(labels)}")
    conf = confusion_matrix(gt_grades, pred_grades, k)
    n = int(conf.sum())
    tp = np.diag(conf).astype(np.float64)
    true_sum = conf.sum(axis=1).astype(np.float64)
    pred_sum = conf.sum(axis=0).astype(np.float64)
    fp = pred_sum - tp
    fn = true_sum - tp
    tn = n - tp - fp - fn
    zero = []

    in_gt = true_sum > 0
    in_any = in_gt | (pred_sum > 0)

    def div(num, den, what, averaged):
        out = np.zeros(k)
        ok = den > 0
        out[ok] = num[ok] / den[ok]
        zero.extend(f"{what} of grade {g}" for g in np.nonzero(~ok & averaged)[0])
        return out

    precision = div(tp, pred_sum, "precision", in_gt)
    sens = div(tp, true_sum, "sensitivity", in_any)
    spec = div(tn, tn + fp, "specificity", in_any)
    per_grade = [
        {"grade": g, "label": labels[g], "support": int(true_sum[g]), "predicted": int(pred_sum[g]),
         "precision": float(precision[g]), "sensitivity": float(sens[g]), "specificity": float(spec[g]),
         "youden_index": float(sens[g] + spec[g] - 1)}
        for g in range(k)
    ]
    sens_m = float(sens[in_any].mean()) if in_any.any() else None
    spec_m = float(spec[in_any].mean()) if in_any.any() else None
    return {
        "labels": labels,
        "images": n,
        "accuracy": float(tp.sum() / n) if n else None,
        "precision_macro": float(precision[in_gt].mean()) if in_gt.any() else None,
        "sensitivity_macro": sens_m,
        "specificity_macro": spec_m,
        "youden_index": None if sens_m is None else sens_m + spec_m - 1,
        "kappa": cohen_kappa(conf),
        "kappa_linear": cohen_kappa(conf, "linear"),
        "kappa_quadratic": cohen_kappa(conf, "quadratic"),
        "confusion_matrix": conf.tolist(),
        "per_grade": per_grade,
        "zero_division": zero,
    }
