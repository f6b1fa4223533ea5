"""Greedy matching of predicted circles to ground-truth circles, per image, COCO rules.

Predictions are taken by descending score (stable sort, as pycocotools); each is matched
to the still-unmatched ground truth it overlaps best, provided the pair is a hit:

* ``rule="iou"``: a hit when the circles' IoU >= the threshold; best = highest IoU.
  Several IoU thresholds are matched in one call (COCO's 0.50:0.05:0.95).
* ``rule="centre"``: a hit when the centre distance <= max(r_gt, r_pred) (point-like
  lesions); best = nearest centre. There is one "threshold" only.

Every image is matched independently, but the work is done on the whole set at once:
a sweep on x finds, for every prediction, the ground truths of its image near enough to
be a hit (vectorised, in chunks), pairs that cannot reach the loosest threshold are
dropped by cheap bounds, the exact lens IoU is computed for the rest (see `acnekit.circles.circle_iou`), pairs with no competitor (their prediction and ground truth take part in no
other hit) are matched in one vectorised step, and only contested pairs go through the
sequential greedy loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from acnekit.circles import lens_area

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # the exact floats pycocotools uses
RULES = ("iou", "centre")
PAIR_CHUNK = 1 << 21  # within-image pairs examined per vectorised step (memory bound)


@dataclass
class Matches:
    """Result of matching N predictions (concatenated image by image) to G ground truths.

    ``gt_index[t, k]``: global index of the ground truth prediction ``k`` is matched to at
    threshold ``t`` (-1 = false positive). ``pred_image`` / ``gt_image``: image index of
    each prediction / ground truth. ``thresholds``: the IoU thresholds (None for the centre
    rule, where ``gt_index`` has one row).
    """

    gt_index: np.ndarray  # (T, N) int64
    score: np.ndarray  # (N,)
    pred_image: np.ndarray  # (N,) int64
    gt_image: np.ndarray  # (G,) int64
    thresholds: np.ndarray | None

    @property
    def tp(self) -> np.ndarray:
        """(T, N) bool: prediction is a true positive at each threshold."""
        return self.gt_index >= 0

    @property
    def n_gt(self) -> int:
        return len(self.gt_image)


def _check_xyr(name: str, arr, n: int | None = None) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.size == 0:
        a = a.reshape(0, 3)
    if a.ndim != 2 or a.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n, 3), got {a.shape}")
    return a


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of aligned pairs: row k of (K, 3) ``a`` with row k of (K, 3) ``b``; (K,) float64.

    The same lens-area formula as `acnekit.circles.circle_iou`, on pairs instead of a matrix.
    """
    d = np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])
    inter = lens_area(d, a[:, 2], b[:, 2])
    union = np.pi * (a[:, 2] ** 2 + b[:, 2] ** 2) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(np.where(union > 0, inter / union, 0.0), 0.0, 1.0)


def _near_pairs(gt: np.ndarray, gt_img: np.ndarray, pred: np.ndarray, pred_img: np.ndarray,
                half: np.ndarray, limit: int):
    """Yield (pred index, gt index) arrays of the within-image pairs whose x distance is at
    most ``half[pred]``, at most about ``limit`` pairs per chunk.

    A sweep on x: ground truths are sorted by (image, x) on one axis with images placed far
    apart, and each prediction takes the window of ground truths around its own x.
    """
    if len(gt) == 0 or len(pred) == 0:
        return
    xs = np.concatenate([gt[:, 0], pred[:, 0]])
    lo_x = xs.min()
    span = (xs.max() - lo_x) + 2 * float(half.max()) + 1.0
    gkey = gt_img * span + (gt[:, 0] - lo_x)
    order = np.argsort(gkey, kind="stable")
    gkey = gkey[order]
    pkey = pred_img * span + (pred[:, 0] - lo_x)
    lo = np.searchsorted(gkey, pkey - half, side="left")
    n = np.searchsorted(gkey, pkey + half, side="right") - lo
    ends = np.cumsum(n)
    start = 0
    while start < len(pred):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + limit, side="right")), start + 1)
        cnt = n[start:stop]
        p = np.repeat(np.arange(start, stop), cnt)
        k = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        yield p, order[lo[p] + k]
        start = stop


def _candidates(gt: np.ndarray, pred: np.ndarray, p: np.ndarray, g: np.ndarray, rule: str, loosest: float):
    """Hit pairs among (p, g): (pred idx, gt idx, value compared to thresholds, quality)."""
    a, b = pred[p], gt[g]
    d = np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])
    if rule == "centre":
        hit = d <= np.maximum(a[:, 2], b[:, 2])
        return p[hit], g[hit], np.ones(int(hit.sum())), -d[hit]
    # IoU <= (r_min / r_max)^2 and needs overlap: drop pairs that cannot reach `loosest`
    rmin, rmax = np.minimum(a[:, 2], b[:, 2]), np.maximum(a[:, 2], b[:, 2])
    maybe = (d < a[:, 2] + b[:, 2]) & (rmin * rmin >= loosest * rmax * rmax * (1 - 1e-9))
    p, g, a, b = p[maybe], g[maybe], a[maybe], b[maybe]
    iou = pair_iou(a, b)
    hit = iou >= loosest
    return p[hit], g[hit], iou[hit], iou[hit]


def match_sets(
    gts: Sequence[np.ndarray],
    preds: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    *,
    rule: str = "iou",
    thresholds: Sequence[float] | float = 0.5,
) -> Matches:
    """Match each image's predictions to its ground truth.

    Args:
        gts: per image, (G_i, 3) ground-truth ``[x, y, r]``.
        preds: per image, (P_i, 3) predicted ``[x, y, r]``.
        scores: per image, (P_i,) prediction scores (higher = more confident).
        rule: ``"iou"`` or ``"centre"``.
        thresholds: IoU threshold(s) (rule ``"iou"`` only); a hit needs IoU >= threshold.

    Returns:
        `Matches` with predictions and ground truths concatenated in image order.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {list(RULES)}, got {rule!r}")
    if not (len(gts) == len(preds) == len(scores)):
        raise ValueError(f"gts, preds and scores must have one entry per image, got {len(gts)}, {len(preds)}, "
                         f"{len(scores)}")
    if rule == "iou":
        thr = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        if thr.ndim != 1 or len(thr) == 0 or np.any(~(thr > 0)) or np.any(thr > 1):
            raise ValueError(f"IoU thresholds must be in (0, 1], got {thr.tolist()}")
    else:
        thr = None
    gts = [_check_xyr(f"gts[{i}]", g) for i, g in enumerate(gts)]
    preds = [_check_xyr(f"preds[{i}]", p) for i, p in enumerate(preds)]
    scores = [np.asarray(s, dtype=np.float64).reshape(-1) for s in scores]
    for i, (p, s) in enumerate(zip(preds, scores)):
        if len(s) != len(p):
            raise ValueError(f"scores[{i}] must have shape ({len(p)},), got {s.shape}")

    n_pred = np.array([len(p) for p in preds], dtype=np.int64)
    n_gt = np.array([len(g) for g in gts], dtype=np.int64)
    score = np.concatenate(scores) if scores else np.zeros(0)
    loosest = float(thr.min()) if thr is not None else 0.0

    all_gt = np.concatenate(gts) if gts else np.zeros((0, 3))
    all_pred = np.concatenate(preds) if preds else np.zeros((0, 3))
    pred_img = np.repeat(np.arange(len(preds)), n_pred)
    gt_img = np.repeat(np.arange(len(gts)), n_gt)
    if rule == "iou":
        # IoU >= t needs d < r_p + r_g and r_g <= r_p / sqrt(t)
        half = all_pred[:, 2] * (1.0 + 1.0 / np.sqrt(loosest)) * (1 + 1e-9)
    else:
        gt_rmax = np.zeros(len(gts))
        np.maximum.at(gt_rmax, gt_img, all_gt[:, 2])
        half = np.maximum(all_pred[:, 2], gt_rmax[pred_img])
    parts = [_candidates(all_gt, all_pred, p, g, rule, loosest)
             for p, g in _near_pairs(all_gt, gt_img, all_pred, pred_img, half, PAIR_CHUNK)]
    if parts:
        pp, pg, pv, pq = (np.concatenate(x) for x in zip(*parts))
    else:
        pp = pg = np.zeros(0, np.int64)
        pv = pq = np.zeros(0)

    # order pairs by the prediction's place in the score order, then best quality first
    # (ties: lower ground-truth index)
    rank = np.empty(len(score), dtype=np.int64)
    rank[np.argsort(-score, kind="mergesort")] = np.arange(len(score))
    order = np.lexsort((pg, -pq, rank[pp]))
    pp, pg, pv = pp[order], pg[order], pv[order]

    n_thr = 1 if thr is None else len(thr)
    gt_index = np.full((n_thr, len(score)), -1, dtype=np.int64)
    for t in range(n_thr):
        sel = np.ones(len(pp), bool) if thr is None else pv >= thr[t]
        gt_index[t] = _greedy(pp[sel], pg[sel], len(score), int(n_gt.sum()))
    return Matches(
        gt_index=gt_index,
        score=score,
        pred_image=pred_img,
        gt_image=gt_img,
        thresholds=thr,
    )


def _greedy(pp: np.ndarray, pg: np.ndarray, n_pred: int, n_gt: int) -> np.ndarray:
    """Greedy assignment over hit pairs sorted by (prediction rank, quality desc)."""
    out = np.full(n_pred, -1, dtype=np.int64)
    if len(pp) == 0:
        return out
    cnt_p = np.bincount(pp, minlength=n_pred)
    cnt_g = np.bincount(pg, minlength=n_gt)
    alone = (cnt_p[pp] == 1) & (cnt_g[pg] == 1)
    out[pp[alone]] = pg[alone]
    taken = set()
    last = -1
    for p, g in zip(pp[~alone].tolist(), pg[~alone].tolist()):
        if p == last or g in taken:
            continue
        taken.add(g)
        out[p] = g
        last = p
    return out


def match_image(gt, pred, score, *, rule: str = "iou", thresholds: Sequence[float] | float = 0.5) -> np.ndarray:
    """One image: (T, P) index of the ground truth each prediction is matched to, -1 if none."""
    return match_sets([gt], [pred], [score], rule=rule, thresholds=thresholds).gt_index
