"""evaluate(): pairing by file name, rescaling, missing images, thresholds, perfect predictions."""

from __future__ import annotations

import numpy as np
import pytest

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import DatasetError
from acnekit.metrics import evaluate


def _image(i, name, xyr, score=None, size=(200, 100)):
    xyr = np.asarray(xyr, float).reshape(-1, 3)
    return ImageRecord(i, name, size[0], size[1], Circles.from_xyr(xyr, score))


def _gt():
    rng = np.random.default_rng(3)
    ims = []
    for i, n in enumerate([3, 8, 25, 60]):
        xyr = np.column_stack([rng.uniform(20, 180, n), rng.uniform(20, 80, n), rng.uniform(3, 9, n)])
        ims.append(_image(i, f"img{i}.jpg", xyr))
    return AcneDataset(ims, path="gt.json")


def _pred_from(gt, transform=lambda im: im.circles.xyr, info=None):
    ims = []
    for im in gt.images:
        xyr = transform(im)
        ims.append(_image(im.id, im.file_name, xyr, np.linspace(0.9, 0.5, len(xyr)), (im.width, im.height)))
    return AcneDataset(ims, info=info or {}, path="pred.json")


def test_perfect_predictions():
    gt = _gt()
    r = evaluate(gt, _pred_from(gt))
    d = r["detection"]
    assert d["ap50"] == 1.0 and d["ap50_95"] == 1.0 and d["ap"] == 1.0
    assert d["at_threshold"]["f1"] == 1.0 and d["at_threshold"]["fp"] == 0
    assert d["sizes"]["radius_mae_px"] == 0.0
    assert r["counting"]["mae"] == 0.0 and r["counting"]["rmse"] == 0.0
    assert r["grading"]["accuracy"] == 1.0
    assert r["images"]["missing_predictions"] == [] and r["images"]["rescaled_predictions"] == []


def test_perfect_predictions_centre_rule():
    gt = _gt()
    r = evaluate(gt, _pred_from(gt), match="centre")
    assert r["detection"]["ap"] == 1.0 and r["detection"]["at_threshold"]["f1"] == 1.0
    assert r["settings"]["iou"] is None


def test_empty_predictions():
    gt = _gt()
    r = evaluate(gt, _pred_from(gt, lambda im: np.zeros((0, 3))))
    d = r["detection"]
    assert d["ap50"] == 0.0 and d["predictions"] == 0
    assert d["at_threshold"]["recall"] == 0.0 and d["at_threshold"]["precision"] is None
    assert r["counting"]["mae"] == pytest.approx(np.mean(gt.counts()))
    assert d["best_f1"] is None


def test_all_gt_counts_an_unpredicted_image_as_missed_and_lists_it():
    gt = _gt()
    pred = _pred_from(gt)
    pred.images = [im for im in pred.images if im.file_name != "img1.jpg"]
    r = evaluate(gt, pred, all_gt=True)
    assert r["images"]["missing_predictions"] == ["img1.jpg"]
    assert r["images"]["left_out"] == 0 and r["settings"]["all_gt"] is True
    assert r["detection"]["at_threshold"]["fn"] == 8
    row = [p for p in r["per_image"] if p["file_name"] == "img1.jpg"][0]
    assert row["pred_count"] == 0 and row["error"] == -8


def _many(n_gt=100, n_pred=20):
    rng = np.random.default_rng(7)
    ims = []
    for i in range(n_gt):
        xyr = np.column_stack([rng.uniform(20, 180, 6), rng.uniform(20, 80, 6), rng.uniform(3, 9, 6)])
        ims.append(_image(i, f"im{i:03d}.jpg", xyr))
    gt = AcneDataset(ims, path="gt.json")
    pred = _pred_from(gt)
    pred.images = pred.images[:n_pred]
    return gt, pred


def test_by_default_only_predicted_images_are_scored():
    # 20 predicted of 100: the 80 others are left out and counted, AP is not diluted
    gt, pred = _many()
    r = evaluate(gt, pred)
    im = r["images"]
    assert (im["gt"], im["evaluated"], im["left_out"], im["with_predictions"]) == (100, 20, 80, 20)
    assert im["missing_predictions"] == [] and len(im["left_out_names"]) == 80
    assert r["detection"]["ap50"] == 1.0 and r["detection"]["ground_truth"] == 120
    assert r["counting"]["images"] == 20 and r["grading"]["images"] == 20 and len(r["per_image"]) == 20
    # the old rule: 80 images all missed, AP50 at most 20 %
    old = evaluate(gt, pred, all_gt=True)
    assert old["images"]["evaluated"] == 100 and old["images"]["left_out"] == 0
    assert len(old["images"]["missing_predictions"]) == 80
    assert old["detection"]["ground_truth"] == 600 and old["detection"]["ap50"] <= 0.21
    assert old["counting"]["mae"] == pytest.approx(0.8 * 6)


def test_unknown_image_is_an_error():
    gt = _gt()
    pred = _pred_from(gt)
    pred.images.append(_image(9, "stranger.jpg", [[5, 5, 2]], [0.5]))
    with pytest.raises(DatasetError, match=r"pred.json: images\[4\].file_name: .*'stranger.jpg'.*not in the ground"):
        evaluate(gt, pred)


def test_predictions_at_another_size_are_rescaled():
    gt = _gt()

    def half(im):  # predictions made on a copy shrunk to half size
        return im.circles.xyr * 0.5

    pred = _pred_from(gt, half)
    pred.images = [ImageRecord(im.id, im.file_name, im.width // 2, im.height // 2, im.circles) for im in pred.images]
    r = evaluate(gt, pred)
    assert r["detection"]["ap50_95"] == 1.0
    assert sorted(r["images"]["rescaled_predictions"]) == [im.file_name for im in gt.images]


def test_anisotropic_rescale_moves_x_and_y_separately():
    gt = AcneDataset([_image(0, "a.jpg", [[100, 50, 6]], size=(200, 100))])
    pred = AcneDataset([_image(0, "a.jpg", [[50, 50, 4.5]], [0.9], size=(100, 100))])
    r = evaluate(gt, pred)
    assert r["detection"]["ap50"] == 1.0  # radius 4.5 * (2 + 1) / 2 = 6.75 -> IoU (6/6.75)^2 > 0.5
    assert r["detection"]["sizes"]["radius_bias_px"] == pytest.approx(0.75)


def test_score_threshold_sources():
    gt = _gt()

    def with_extras(im):  # a few low-score false positives at the end
        return np.vstack([im.circles.xyr, [[1, 1, 1], [2, 2, 1]]])

    pred = _pred_from(gt, with_extras)
    best = evaluate(gt, pred)
    assert best["settings"]["score_threshold_source"] == "best F1"
    # tuned on the evaluated set itself: said in a field and a warning
    assert best["settings"]["score_threshold_tuned_on_evaluated_set"] is True
    assert len(best["warnings"]) == 1 and "tuned on the evaluated images" in best["warnings"][0]
    assert best["detection"]["at_threshold"]["f1"] == best["detection"]["best_f1"]["f1"]
    given = evaluate(gt, pred, score_thr=0.0)
    assert given["settings"]["score_threshold_source"] == "given"
    assert given["settings"]["score_threshold_tuned_on_evaluated_set"] is False and given["warnings"] == []
    assert given["detection"]["at_threshold"]["fp"] == 8
    assert given["counting"]["mae"] == 2.0
    info = evaluate(gt, _pred_from(gt, with_extras, info={"score_threshold": 0.0}))
    assert info["settings"]["score_threshold_source"] == "prediction file info.score_threshold"
    assert info["settings"]["score_threshold_tuned_on_evaluated_set"] is False and info["warnings"] == []
    assert info["detection"]["at_threshold"]["fp"] == 8


def test_bad_info_threshold_is_an_error():
    gt = _gt()
    with pytest.raises(DatasetError, match="info.score_threshold"):
        evaluate(gt, _pred_from(gt, info={"score_threshold": "high"}))


def test_unscored_predictions_are_taken_as_score_one():
    gt = _gt()
    r = evaluate(gt, gt)  # the ground truth against itself: no scores anywhere
    assert r["detection"]["ap50"] == 1.0
    assert any("no scores" in n for n in r["notes"])


def test_mixed_scored_and_unscored_is_an_error():
    gt = _gt()
    pred = _pred_from(gt)
    pred.images[2] = gt.images[2]
    with pytest.raises(DatasetError, match="without 'score'"):
        evaluate(gt, pred)


def test_jittered_predictions_figures_are_consistent():
    gt = _gt()
    rng = np.random.default_rng(0)

    def jitter(im):
        xyr = im.circles.xyr.copy()
        xyr[:, :2] += rng.normal(0, 1.0, (len(xyr), 2))
        return xyr

    r = evaluate(gt, _pred_from(gt, jitter), px_per_mm=4.0)
    ap = r["detection"]["ap_per_iou"]
    assert list(ap) == [f"{t:.2f}" for t in np.linspace(0.5, 0.95, 10)]
    vals = list(ap.values())
    assert all(a >= b - 1e-12 for a, b in zip(vals, vals[1:]))  # stricter IoU, lower AP
    assert r["detection"]["ap50_95"] == pytest.approx(np.mean(vals))
    s = r["detection"]["sizes"]
    assert s["centre_distance_mean_mm"] == pytest.approx(s["centre_distance_mean_px"] / 4.0)


@pytest.mark.parametrize("kw, msg", [
    ({"iou": 0.0}, "iou"), ({"iou": 1.5}, "iou"), ({"match": "box"}, "match"),
    ({"px_per_mm": -1.0}, "px_per_mm"), ({"score_thr": float("nan")}, "score_thr"), ({"bands": (5, 3)}, "bands"),
])
def test_bad_arguments(kw, msg):
    gt = _gt()
    with pytest.raises(ValueError, match=msg):
        evaluate(gt, _pred_from(gt), **kw)


def test_off_grid_iou_threshold():
    gt = _gt()
    r = evaluate(gt, _pred_from(gt), iou=0.33)
    assert r["detection"]["ap"] == 1.0 and r["settings"]["iou"] == 0.33


def test_real_file_against_itself(real_json):
    from dataclasses import replace

    from acnekit.dataset import load_dataset

    gt, _ = load_dataset(real_json, fix=True)
    pred = replace(gt, images=[im.with_circles(Circles(im.circles.xy, im.circles.radius, np.ones(im.count)))
                               for im in gt.images])
    r = evaluate(gt, pred)
    assert r["detection"]["ground_truth"] == gt.n_lesions
    assert r["detection"]["ap50_95"] == 1.0 and r["detection"]["at_threshold"]["f1"] == 1.0
    assert r["counting"]["mae"] == 0.0 and r["grading"]["kappa_quadratic"] == 1.0


def test_no_ground_truth_lesions_gives_json_safe_nulls():
    import json

    gt = AcneDataset([_image(0, "a.jpg", np.zeros((0, 3)))])
    pred = AcneDataset([_image(0, "a.jpg", [[5, 5, 3]], [-0.4])])
    r = evaluate(gt, pred)
    json.dumps(r, allow_nan=False)
    assert r["detection"]["ap50"] is None and r["detection"]["best_f1"] is None
    assert r["settings"]["score_threshold"] == -0.4  # all predictions kept
    assert r["detection"]["at_threshold"]["fp"] == 1 and r["counting"]["mae"] == 1.0
