"""`evaluate(gt, pred)`: every detection, counting and grading figure for a prediction set.

Images are paired by ``file_name``. Predictions recorded at another image size than the
ground truth are rescaled to the ground truth's pixels; a prediction for an image the
ground truth does not have is an error. Ground-truth images with no prediction entry are
left out (and counted) by default, so predictions for 20 photos are not scored against
1,204; ``all_gt=True`` counts them as all-missed instead (and lists them).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset
from acnekit.errors import DatasetError
from acnekit.grading import HAYASHI_UPPER, check_bands, hayashi_grade
from acnekit.metrics.counting import count_errors
from acnekit.metrics.detection import RECALL_POINTS, average_precision, best_f1, prf_at, size_errors
from acnekit.metrics.grading import grading_metrics
from acnekit.metrics.matching import COCO_IOU_THRESHOLDS, RULES, match_sets


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def _check_args(iou, score_thr, match, px_per_mm, bands) -> None:
    if match not in RULES:
        raise ValueError(f"match must be one of {list(RULES)}, got {match!r}")
    if not (isinstance(iou, (int, float)) and 0 < iou <= 1):
        raise ValueError(f"iou must be in (0, 1], got {iou!r}")
    if score_thr is not None and not (isinstance(score_thr, (int, float)) and math.isfinite(score_thr)):
        raise ValueError(f"score_thr must be a finite number, got {score_thr!r}")
    if px_per_mm is not None and not (isinstance(px_per_mm, (int, float)) and math.isfinite(px_per_mm)
                                      and px_per_mm > 0):
        raise ValueError(f"px_per_mm must be a positive number, got {px_per_mm!r}")
    check_bands(bands)


def _predicted_subset(gt: AcneDataset, pred: AcneDataset) -> tuple[AcneDataset, list[str]]:
    """``gt`` restricted to the images named in ``pred``, and the names left out."""
    named = {im.file_name for im in pred.images}
    kept = [im for im in gt.images if im.file_name in named]
    left_out = [im.file_name for im in gt.images if im.file_name not in named]
    sub = AcneDataset(images=kept, info=gt.info, extra=gt.extra, path=gt.path)
    return sub, left_out


def _pair_images(gt: AcneDataset, pred: AcneDataset):
    """Per GT image: prediction circles in GT pixels (None when missing); rescaled names."""
    gt_index = {im.file_name: k for k, im in enumerate(gt.images)}
    if len(gt_index) != len(gt.images):
        raise DatasetError("duplicate file_name in the ground truth", path=gt.path, where="images")
    paired: list[Circles | None] = [None] * len(gt.images)
    rescaled = []
    for i, im in enumerate(pred.images):
        k = gt_index.get(im.file_name)
        if k is None:
            raise DatasetError(f"image {im.file_name!r} is not in the ground truth {gt.path or ''}".rstrip(),
                               path=pred.path, where=f"images[{i}].file_name")
        if paired[k] is not None:
            raise DatasetError(f"image {im.file_name!r} appears twice in the predictions",
                               path=pred.path, where=f"images[{i}].file_name")
        g = gt.images[k]
        c = im.circles
        if (im.width, im.height) != (g.width, g.height):
            c = c.scaled(g.width / im.width, g.height / im.height)
            rescaled.append(im.file_name)
        paired[k] = c
    return paired, rescaled


def _scores(pred: AcneDataset, paired: list[Circles | None]) -> tuple[list[np.ndarray], bool]:
    """Per GT image score arrays; all 1.0 when the prediction file has no scores at all."""
    unscored = [i for i, im in enumerate(pred.images) if im.count and im.circles.score is None]
    scored = [im for im in pred.images if im.count and im.circles.score is not None]
    if unscored and scored:
        i = unscored[0]
        raise DatasetError(f"image {pred.images[i].file_name!r} has circles without 'score' while others have "
                           f"scores; every predicted circle needs a score", path=pred.path, where=f"images[{i}]")
    out = []
    for c in paired:
        if c is None or len(c) == 0:
            out.append(np.zeros(0))
        else:
            out.append(np.ones(len(c)) if unscored else c.score)
    return out, bool(unscored)


def _info_threshold(pred: AcneDataset) -> float | None:
    if "score_threshold" not in pred.info:
        return None
    v = pred.info["score_threshold"]
    if type(v) not in (int, float) or not math.isfinite(v):
        raise DatasetError(f"must be a finite number, got {v!r}", path=pred.path, where="info.score_threshold")
    return float(v)


def evaluate(
    gt: AcneDataset,
    pred: AcneDataset,
    iou: float = 0.5,
    score_thr: float | None = None,
    match: str = "iou",
    px_per_mm: float | None = None,
    bands: Sequence[int] = HAYASHI_UPPER,
    all_gt: bool = False,
) -> dict:
    """Compare predictions with ground truth; returns a JSON-ready dict of every figure.

    Args:
        gt, pred: datasets (predictions carry a per-circle ``score``; a file with no scores
            at all is evaluated with every score 1).
        iou: IoU threshold of a hit for ``match="iou"`` (AP@[0.5:0.95] is always reported).
        score_thr: keep predictions with score >= this for P/R/F1, counts and grades. None:
            ``pred.info["score_threshold"]`` if present, else the best-F1 threshold.
        match: ``"iou"`` or ``"centre"`` (hit when centre distance <= max(r_gt, r_pred)).
        px_per_mm: image scale, to report size errors in mm too.
        bands: Hayashi band upper bounds for grading.
        all_gt: score every ground-truth image (those without a prediction entry as all
            missed); default: only the images the predictions name (the rest are counted
            in ``images.left_out``).
    """
    _check_args(iou, score_thr, match, px_per_mm, bands)
    n_gt_file = len(gt.images)
    left_out: list[str] = []
    if not all_gt:
        gt, left_out = _predicted_subset(gt, pred)
    paired, rescaled = _pair_images(gt, pred)
    scores, unscored = _scores(pred, paired)
    missing = [im.file_name for im, c in zip(gt.images, paired) if c is None]
    gts = [im.circles.xyr for im in gt.images]
    preds = [np.zeros((0, 3)) if c is None else c.xyr for c in paired]
    notes, warnings = [], []
    if unscored:
        notes.append("predictions carry no scores: every score taken as 1")

    # AP over COCO's IoU thresholds, plus the chosen IoU when it is not one of them
    thr = COCO_IOU_THRESHOLDS
    extra_iou = match == "iou" and not np.any(np.isclose(thr, iou, rtol=0, atol=1e-9))
    if extra_iou:
        thr = np.append(thr, iou)
    coco = match_sets(gts, preds, scores, rule="iou", thresholds=thr)
    ap_all = average_precision(coco.tp, coco.score, coco.n_gt)
    if match == "iou":
        row = len(thr) - 1 if extra_iou else int(np.argmin(np.abs(thr - iou)))
        chosen_tp = coco.tp[row]
        chosen = {k: v[row] for k, v in ap_all.items()}
        gt_of = coco.gt_index[row]
    else:
        cm = match_sets(gts, preds, scores, rule="centre")
        chosen_tp = cm.tp[0]
        chosen = {k: v[0] for k, v in average_precision(cm.tp, cm.score, cm.n_gt).items()}
        gt_of = cm.gt_index[0]
    score = coco.score
    n_gt = coco.n_gt

    best = best_f1(chosen_tp, score, n_gt)
    if score_thr is not None:
        t, source = float(score_thr), "given"
    elif (t := _info_threshold(pred)) is not None:
        source = "prediction file info.score_threshold"
    elif best is not None:
        t, source = best["threshold"], "best F1"
        warnings.append(f"no score threshold recorded in the predictions (info.score_threshold): using the best-F1 "
                        f"threshold {t:.4g} tuned on the evaluated images themselves, so P/R/F1, counts and grades "
                        f"at it are optimistic; pass --score-thr or record info.score_threshold")
    else:
        t = float(score.min()) if len(score) else 0.0
        source = "all kept (best F1 undefined: no ground truth or no predictions)"
    keep = score >= t

    # sizes of matched pairs kept at the threshold
    gt_xyr = np.concatenate(gts) if gts else np.zeros((0, 3))
    pred_xyr = np.concatenate(preds) if preds else np.zeros((0, 3))
    k = np.nonzero(chosen_tp & keep)[0]
    g = gt_of[k]
    dist = np.hypot(*(pred_xyr[k, :2] - gt_xyr[g, :2]).T) if len(k) else np.zeros(0)
    sizes = size_errors(gt_xyr[g, 2], pred_xyr[k, 2], dist, px_per_mm)

    n_img = len(gt.images)
    gt_counts = gt.counts()
    pred_counts = np.bincount(coco.pred_image[keep], minlength=n_img)
    tp_counts = np.bincount(coco.pred_image[chosen_tp & keep], minlength=n_img)
    grading = grading_metrics(gt_counts, pred_counts, bands)
    gt_grade = hayashi_grade(gt_counts, bands)
    pred_grade = hayashi_grade(pred_counts, bands)

    ap_per_iou = {f"{x:.2f}": _num(a) for x, a in zip(COCO_IOU_THRESHOLDS, ap_all["ap"][: len(COCO_IOU_THRESHOLDS)])}
    detection = {
        "rule": match,
        "iou": float(iou) if match == "iou" else None,
        "ground_truth": int(n_gt),
        "predictions": int(len(score)),
        "ap": _num(chosen["ap"]),
        "ap50": ap_per_iou["0.50"],
        "ap75": ap_per_iou["0.75"],
        "ap50_95": _num(np.mean(ap_all["ap"][: len(COCO_IOU_THRESHOLDS)])),
        "ap_per_iou": ap_per_iou,
        "pr_curve": {
            "recall": [round(float(r), 2) for r in RECALL_POINTS],
            "precision": [_num(p) for p in chosen["precision"]],
            "score": [_num(s) for s in chosen["score"]],
        },
        "at_threshold": prf_at(chosen_tp, score, n_gt, t),
        "best_f1": best,
        "sizes": sizes,
    }
    return {
        "gt": gt.path,
        "pred": pred.path,
        "settings": {
            "match": match,
            "iou": float(iou) if match == "iou" else None,
            "score_threshold": t,
            "score_threshold_source": source,
            "score_threshold_tuned_on_evaluated_set": source == "best F1",
            "all_gt": bool(all_gt),
            "px_per_mm": px_per_mm,
            "bands": list(bands),
        },
        "images": {
            "gt": n_gt_file,
            "evaluated": n_img,
            "left_out": len(left_out),
            "left_out_names": left_out,
            "with_predictions": n_img - len(missing),
            "missing_predictions": missing,
            "rescaled_predictions": rescaled,
        },
        "detection": detection,
        "counting": count_errors(gt_counts, pred_counts),
        "grading": grading,
        "per_image": [
            {"file_name": im.file_name, "gt_count": int(a), "pred_count": int(b), "error": int(b - a),
             "true_positives": int(c), "gt_grade": int(ga), "pred_grade": int(pa)}
            for im, a, b, c, ga, pa in zip(gt.images, gt_counts, pred_counts, tp_counts, gt_grade, pred_grade)
        ],
        "notes": notes,
        "warnings": warnings,
    }
