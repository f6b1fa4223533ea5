"""Detection metrics from matched predictions: AP (COCO 101-point), PR curve, P/R/F1 at a
score threshold, the best-F1 threshold, and size errors of matched pairs.

Conventions: predictions are ranked by descending score (stable sort). A figure that is
0/0 (precision with no prediction kept, recall with no ground truth) is ``None``.
"""

from __future__ import annotations

import numpy as np

RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCO's recall thresholds


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den > 0 else None


def average_precision(tp: np.ndarray, score: np.ndarray, n_gt: int) -> dict:
    """COCO-style AP for each row of ``tp``.

    Args:
        tp: (T, N) bool, prediction k is a true positive at threshold t.
        score: (N,) prediction scores.
        n_gt: number of ground-truth objects.

    Returns:
        ``ap`` (T,) (NaN when ``n_gt`` is 0), ``precision`` (T, 101) interpolated precision at
        recall 0, 0.01, ..., 1 (0 past the highest recall reached), ``score`` (T, 101) the
        score of the prediction at which each recall point is reached (NaN past the end).
    """
    tp = np.atleast_2d(np.asarray(tp, dtype=bool))
    n_thr, n = tp.shape
    if n_gt == 0:
        nan = np.full((n_thr, len(RECALL_POINTS)), np.nan)
        return {"ap": np.full(n_thr, np.nan), "precision": nan, "score": nan.copy()}
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    tps = tp[:, order]
    tp_c = np.cumsum(tps, axis=1, dtype=np.float64)
    fp_c = np.cumsum(~tps, axis=1, dtype=np.float64)
    recall = tp_c / n_gt
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = tp_c / (tp_c + fp_c)
    # precision envelope: best precision at this or any higher recall
    env = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1] if n else prec
    sorted_scores = np.asarray(score, dtype=np.float64)[order]
    q = np.zeros((n_thr, len(RECALL_POINTS)))
    s = np.full((n_thr, len(RECALL_POINTS)), np.nan)
    for t in range(n_thr):
        idx = np.searchsorted(recall[t], RECALL_POINTS, side="left")
        ok = idx < n
        q[t, ok] = env[t, idx[ok]]
        s[t, ok] = sorted_scores[idx[ok]]
    return {"ap": q.mean(axis=1), "precision": q, "score": s}


def prf_at(tp: np.ndarray, score: np.ndarray, n_gt: int, threshold: float) -> dict:
    """Counts and precision / recall / F1 of the predictions with score >= ``threshold``."""
    tp = np.asarray(tp, dtype=bool)
    keep = np.asarray(score) >= threshold
    n_tp = int(np.sum(tp & keep))
    n_fp = int(np.sum(~tp & keep))
    n_fn = int(n_gt - n_tp)
    return {
        "tp": n_tp, "fp": n_fp, "fn": n_fn,
        "precision": _ratio(n_tp, n_tp + n_fp),
        "recall": _ratio(n_tp, n_gt),
        "f1": _ratio(2 * n_tp, 2 * n_tp + n_fp + n_fn),
    }


def best_f1(tp: np.ndarray, score: np.ndarray, n_gt: int) -> dict | None:
    """The score threshold of highest F1 (keeping predictions with score >= it).

    Every distinct score is a candidate cut; ties in F1 go to the higher threshold.
    Returns None when there are no predictions or no ground truth.
    """
    tp = np.asarray(tp, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    if len(score) == 0 or n_gt == 0:
        return None
    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    tp_c = np.cumsum(tp[order])
    # last prediction of each group of equal scores: cutting there keeps the whole group
    last = np.r_[s[1:] != s[:-1], True]
    n_kept = np.nonzero(last)[0] + 1
    tps = tp_c[last]
    f1 = 2 * tps / (n_kept + n_gt)
    k = int(np.argmax(f1))
    thr = float(s[last][k])
    return {"threshold": thr, **prf_at(tp, score, n_gt, thr)}


def size_errors(gt_r: np.ndarray, pred_r: np.ndarray, centre_dist: np.ndarray, px_per_mm: float | None) -> dict:
    """Radius error (pred - gt) and centre distance of matched pairs, in px (and mm)."""
    err = np.asarray(pred_r, float) - np.asarray(gt_r, float)
    n = len(err)
    out = {
        "pairs": n,
        "radius_mae_px": float(np.mean(np.abs(err))) if n else None,
        "radius_bias_px": float(np.mean(err)) if n else None,
        "centre_distance_mean_px": float(np.mean(centre_dist)) if n else None,
    }
    if px_per_mm is not None:
        for key in ("radius_mae", "radius_bias", "centre_distance_mean"):
            v = out[f"{key}_px"]
            out[f"{key}_mm"] = None if v is None else v / px_per_mm
    return out
