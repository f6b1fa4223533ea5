"""Cross-check: acnekit's AP50 on circles equals pycocotools' (and faster-coco-eval's) `segm`
AP50 on the same circles written as fine polygons.

COCO rasterises polygons into pixel masks, so its IoU differs slightly from the exact lens
IoU; radii >= 12 px keep that difference small, and the tolerance is 0.01.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.metrics import evaluate
from acnekit.metrics.coco_segm import coco_segm_inputs

W, H = 320, 240


def _generated(seed):
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for i in range(12):
        n = int(rng.integers(0, 14))
        r = rng.uniform(12, 30, n)
        gxy = np.column_stack([rng.uniform(30, W - 30, n), rng.uniform(30, H - 30, n)])
        keep = rng.random(n) < 0.85
        pxy = gxy[keep] + rng.normal(0, 0.25, (keep.sum(), 2)) * r[keep, None]
        pr = r[keep] * np.exp(rng.normal(0, 0.2, keep.sum()))
        m = int(rng.integers(0, 4))  # false positives
        pxy = np.vstack([pxy, np.column_stack([rng.uniform(30, W - 30, m), rng.uniform(30, H - 30, m)])])
        pr = np.concatenate([pr, rng.uniform(12, 30, m)])
        score = rng.random(len(pr))
        gts.append(ImageRecord(i, f"im{i}.jpg", W, H, Circles(gxy, r)))
        preds.append(ImageRecord(i, f"im{i}.jpg", W, H, Circles(pxy, pr, score)))
    return AcneDataset(gts), AcneDataset(preds)


def _coco_precision(coco_mod, eval_cls, gt_dict, dets):
    """COCO's accumulated precision at area 'all', maxDets 1000: (10 IoUs, 101 recall points)."""
    with contextlib.redirect_stdout(io.StringIO()):
        cg = coco_mod.COCO()
        cg.dataset = gt_dict
        cg.createIndex()
        cd = cg.loadRes(dets)
        ev = eval_cls(cg, cd, "segm")
        ev.params.maxDets = [1, 10, 1000]
        ev.evaluate()
        ev.accumulate()
    return ev.eval["precision"][:, :, 0, 0, 2]  # IoUs, recall points, class 0, area 'all', 1000 dets


def _ap50(*args):
    return float(np.mean(_coco_precision(*args)[0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap50_matches_pycocotools(seed):
    pytest.importorskip("pycocotools")
    from pycocotools import coco, mask
    from pycocotools.cocoeval import COCOeval

    gt, pred = _generated(seed)
    det = evaluate(gt, pred)["detection"]
    prec = _coco_precision(coco, COCOeval, *coco_segm_inputs(gt, pred, mask))
    assert 0.3 < det["ap50"] < 0.95  # a set that exercises both hits and misses
    assert abs(det["ap50"] - prec[0].mean()) <= 0.01, (det["ap50"], prec[0].mean())
    # the mean over IoU 0.50:0.95 agrees too (rasterisation matters more at high IoU)
    assert abs(det["ap50_95"] - prec.mean()) <= 0.01, (det["ap50_95"], prec.mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_ap50_matches_faster_coco_eval(seed):
    fce = pytest.importorskip("faster_coco_eval")

    gt, pred = _generated(seed)
    ours = evaluate(gt, pred)["detection"]["ap50"]
    from faster_coco_eval.core import mask

    theirs = _ap50(fce, fce.COCOeval_faster, *coco_segm_inputs(gt, pred, mask))
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


def test_perfect_predictions_score_one_in_both():
    pytest.importorskip("pycocotools")
    from pycocotools import coco, mask
    from pycocotools.cocoeval import COCOeval

    gt, _ = _generated(5)
    pred = AcneDataset([im.with_circles(Circles(im.circles.xy, im.circles.radius, np.ones(im.count)))
                        for im in gt.images])
    assert evaluate(gt, pred)["detection"]["ap50"] == 1.0
    assert _ap50(coco, COCOeval, *coco_segm_inputs(gt, pred, mask)) == pytest.approx(1.0)
