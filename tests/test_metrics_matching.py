"""Greedy matching: COCO rules, the centre rule, and agreement with a plain reference loop."""

from __future__ import annotations

import numpy as np
import pytest

from acnekit.circles import circle_iou
from acnekit.metrics.matching import COCO_IOU_THRESHOLDS, match_image, match_sets


def _reference(gt, pred, score, thr, rule):
    """Textbook greedy: predictions by descending score, each takes the best unmatched hit."""
    out = np.full(len(pred), -1)
    if len(gt) == 0 or len(pred) == 0:
        return out
    iou = circle_iou(pred, gt)
    d = np.hypot(pred[:, None, 0] - gt[None, :, 0], pred[:, None, 1] - gt[None, :, 1])
    taken = np.zeros(len(gt), bool)
    for p in np.argsort(-score, kind="mergesort"):
        if rule == "iou":
            hit, quality = iou[p] >= thr, iou[p]
        else:
            hit, quality = d[p] <= np.maximum(gt[:, 2], pred[p, 2]), -d[p]
        cand = np.nonzero(hit & ~taken)[0]
        if len(cand):
            g = cand[np.argmax(quality[cand])]
            taken[g] = True
            out[p] = g
    return out


def test_higher_score_wins_the_contested_ground_truth():
    gt = np.array([[50, 50, 10]])
    pred = np.array([[51, 50, 10], [50, 50, 10]])  # the second overlaps better but scores lower
    assert match_image(gt, pred, [0.9, 0.5]).tolist() == [[0, -1]]
    assert match_image(gt, pred, [0.5, 0.9]).tolist() == [[-1, 0]]


def test_prediction_takes_the_ground_truth_of_highest_iou():
    gt = np.array([[50, 50, 10], [53, 50, 10]])
    pred = np.array([[52.5, 50, 10]])
    assert match_image(gt, pred, [1.0]).tolist() == [[1]]


def test_falls_back_to_next_unmatched_hit():
    gt = np.array([[50, 50, 10], [54, 50, 10]])
    pred = np.array([[53.5, 50, 10], [52, 50, 10]])
    # first prediction takes gt 1 (closer); the second still hits gt 0
    assert match_image(gt, pred, [0.9, 0.8]).tolist() == [[1, 0]]


def test_threshold_is_inclusive_and_several_thresholds_at_once():
    gt = np.array([[0, 0, 10]])
    pred = np.array([[0, 0, 10 * np.sqrt(0.5)]])  # nested: IoU exactly 0.5
    iou = circle_iou(gt, pred)[0, 0]
    out = match_image(gt, pred, [1.0], thresholds=[iou, 0.55, 0.75])
    assert out[:, 0].tolist() == [0, -1, -1]


def test_centre_rule_uses_the_larger_radius():
    gt = np.array([[0, 0, 2.0]])
    far_small = np.array([[5.0, 0, 1.0]])  # distance 5 > max(2, 1)
    far_big = np.array([[5.0, 0, 5.0]])  # distance 5 <= max(2, 5), though IoU is small
    assert match_image(gt, far_small, [1.0], rule="centre").tolist() == [[-1]]
    assert match_image(gt, far_big, [1.0], rule="centre").tolist() == [[0]]
    assert match_image(gt, far_big, [1.0], rule="iou").tolist() == [[-1]]


def test_centre_rule_prefers_nearest_centre():
    gt = np.array([[0, 0, 5], [3, 0, 5]])
    pred = np.array([[2.5, 0, 5]])
    assert match_image(gt, pred, [1.0], rule="centre").tolist() == [[1]]


def test_images_are_independent():
    # identical circles in two images: each prediction may only match its own image's GT
    gts = [np.array([[10, 10, 5]]), np.zeros((0, 3))]
    preds = [np.zeros((0, 3)), np.array([[10, 10, 5]])]
    m = match_sets(gts, preds, [np.zeros(0), np.array([1.0])])
    assert m.gt_index.tolist() == [[-1]]
    assert m.n_gt == 1 and m.pred_image.tolist() == [1]


@pytest.mark.parametrize("rule", ["iou", "centre"])
@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_reference_loop(rule, seed):
    rng = np.random.default_rng(seed)
    gts, preds, scores = [], [], []
    for _ in range(5):
        n = int(rng.integers(0, 30))
        g = np.column_stack([rng.uniform(-20, 120, (n, 2)), rng.uniform(2, 15, n)])
        keep = g[rng.random(n) < 0.8]
        jit = keep + np.column_stack([rng.normal(0, 3, (len(keep), 2)), rng.normal(0, 2, len(keep))])
        jit[:, 2] = np.abs(jit[:, 2]) + 0.5
        extra = np.column_stack([rng.uniform(0, 100, (5, 2)), rng.uniform(2, 15, 5)])
        p = np.vstack([jit, extra])
        gts.append(g)
        preds.append(p)
        scores.append(rng.choice([0.2, 0.5, 0.9], len(p)) if seed % 2 else rng.random(len(p)))
    thr = COCO_IOU_THRESHOLDS if rule == "iou" else [None]
    m = match_sets(gts, preds, scores, rule=rule, thresholds=COCO_IOU_THRESHOLDS)
    g_off = np.concatenate([[0], np.cumsum([len(g) for g in gts])])
    for t, th in enumerate(thr):
        expect = []
        for i, (g, p, s) in enumerate(zip(gts, preds, scores)):
            ref = _reference(g, p, s, th, rule)
            expect.append(np.where(ref >= 0, ref + g_off[i], -1))
        assert m.gt_index[t].tolist() == np.concatenate(expect).tolist()


def test_small_chunks_give_the_same_result(monkeypatch):
    import acnekit.metrics.matching as mm

    rng = np.random.default_rng(1)
    g = np.column_stack([rng.uniform(0, 200, (80, 2)), rng.uniform(3, 12, 80)])
    p = g + rng.normal(0, 1.5, g.shape)
    p[:, 2] = np.abs(p[:, 2]) + 1
    s = rng.random(len(p))
    full = match_sets([g, g], [p, p], [s, s]).gt_index
    monkeypatch.setattr(mm, "PAIR_CHUNK", 7)
    assert match_sets([g, g], [p, p], [s, s]).gt_index.tolist() == full.tolist()


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="rule"):
        match_image(np.zeros((0, 3)), np.zeros((0, 3)), [], rule="box")
    with pytest.raises(ValueError, match="thresholds"):
        match_image(np.zeros((0, 3)), np.zeros((0, 3)), [], thresholds=1.5)
    with pytest.raises(ValueError, match="scores"):
        match_image(np.zeros((0, 3)), np.ones((2, 3)), [1.0])
