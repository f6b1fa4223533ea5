"""COCO export/import: lossless round trips, pycocotools on the real file, bad input."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from _formats_gen import datasets
from hypothesis import given, settings

from acnekit.dataset import load_dataset
from acnekit.errors import DatasetError
from acnekit.formats.coco import coco_to_dataset, dataset_to_coco, load_coco, save_coco
from acnekit.validate import load_validated


def _through_json(obj):
    return json.loads(json.dumps(obj, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_round_trip_generated(ds):
    ds.info = {"description": "generated"}
    obj = _through_json(dataset_to_coco(ds))
    back = coco_to_dataset(obj)
    assert back.equals(ds)


@settings(max_examples=30, deadline=None)
@given(datasets())
def test_coco_fields(ds):
    obj = dataset_to_coco(ds)
    cats = {c["id"]: c for c in obj["categories"]}
    assert len(obj["annotations"]) == ds.n_lesions
    for a in obj["annotations"]:
        x, y, r = a["circle"]
        assert a["bbox"] == pytest.approx([x - r, y - r, 2 * r, 2 * r], abs=1e-5)
        assert a["area"] == pytest.approx(np.pi * r * r, abs=1e-5)
        assert a["iscrowd"] == 0 and a["category_id"] in cats


def test_extra_fields_and_partial_scores_survive():
    obj = {"info": {"v": 1}, "licenses": [{"id": 1}],
           "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80, "license": 1}],
           "annotations": [
               {"id": 3, "image_id": 7, "coordinates": [10, 20], "radius": 5, "class_name": "acne", "note": "x",
                "score": 0.5},
               {"id": 4, "image_id": 7, "coordinates": [30.5, 40.25], "radius": 2.5, "class_name": "acne"}]}
    from acnekit.validate import parse_dataset

    ds, _ = parse_dataset(obj)
    back = coco_to_dataset(_through_json(dataset_to_coco(ds)))
    assert back.equals(ds)
    assert back.to_dict() == ds.to_dict()


def test_plain_coco_boxes_use_radius_rule():
    obj = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [10, 20, 8, 4]}],
           "categories": [{"id": 2, "name": "papules"}]}
    rules = {"mean": 3.0, "min": 2.0, "max": 4.0, "area": np.sqrt(32 / np.pi)}
    for rule, r in rules.items():
        ds = coco_to_dataset(obj, radius_rule=rule)
        c = ds.images[0].circles
        assert c.xy.tolist() == [[14.0, 22.0]] and c.radius[0] == pytest.approx(r)
        assert c.class_name.tolist() == ["papules"]
        assert ds.images[0].ann_extra == [{"box": [10, 20, 18, 24]}]
    # the box is kept: written back as the same bbox
    again = dataset_to_coco(coco_to_dataset(obj))
    assert again["annotations"][0]["bbox"] == [10, 20, 8, 4]


def _one(**ann):
    return {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], **ann}],
            "categories": [{"id": 1, "name": "acne"}]}


@pytest.mark.parametrize("obj, where, text", [
    # negative box width
    (_one(bbox=[10, 10, -4, 5]), "annotations[0].bbox", "bbox width must be positive"),
    # zero box height
    (_one(bbox=[10, 10, 4, 0]), "annotations[0].bbox", "bbox height must be positive"),
    # bbox with 3 numbers
    (_one(bbox=[1, 2, 3]), "annotations[0].bbox", "list of 4 finite numbers"),
    # category that does not exist
    (_one(category_id=9), "annotations[0].category_id", "no category with id 9"),
    # annotation of a missing image
    (_one(image_id=5), "annotations[0].image_id", "no image with id 5"),
    # crowd region
    (_one(iscrowd=1), "annotations[0].iscrowd", "crowd"),
    # circle with negative radius
    (_one(circle=[5, 5, -1]), "annotations[0].circle", "radius must be positive"),
    # centre outside the image
    (_one(bbox=[200, 10, 4, 4]), "annotations[0].bbox", "outside the 100x100 image"),
    # string score
    (_one(score="high"), "annotations[0].score", "finite number"),
])
def test_bad_coco(obj, where, text):
    with pytest.raises(DatasetError) as err:
        coco_to_dataset(obj, "in.json")
    assert err.value.where == where and text in str(err.value) and "in.json" in str(err.value)


def test_bad_image_and_duplicate_ids():
    obj = _one()
    obj["images"][0]["width"] = 0
    with pytest.raises(DatasetError, match=r"images\[0\]: width must be a positive integer, got 0"):
        coco_to_dataset(obj)
    obj = _one()
    obj["annotations"].append(dict(obj["annotations"][0]))
    with pytest.raises(DatasetError, match=r"annotations\[1\].id: duplicate annotation id 1"):
        coco_to_dataset(obj)


# ---------------------------------------------------------------------------- the real file
@pytest.fixture(scope="module")
def real_full(request):
    from conftest import ACNE04V2_JSON

    if not ACNE04V2_JSON.exists():
        pytest.skip(f"real data not available: {ACNE04V2_JSON} is absent")
    # the published annotation list unrepaired: the 49 out-of-image circles of levle2_130.jpg kept
    ds, issues = load_validated(ACNE04V2_JSON, fix=True, keep_outside=True)
    assert issues == []
    return ds


def test_real_repaired_round_trip(real_json):
    ds, repairs = load_dataset(real_json, fix=True)
    assert len(repairs) == 49 and ds.n_lesions == 32443 - 49
    back = coco_to_dataset(_through_json(dataset_to_coco(ds)))
    assert back.equals(ds)


def test_real_unrepaired_round_trip_is_lossless(real_full, real_json):
    back = coco_to_dataset(_through_json(dataset_to_coco(real_full)), keep_outside=True)
    assert back.equals(real_full)
    original = json.loads(real_json.read_text())
    assert back.to_dict() == original


def _self_eval(coco_cls, eval_cls, path, image_ids=None):
    """AP@[.5:.95] (and AP50) of a COCO file's boxes, as detections with score 1, against
    itself. maxDets 1000: some images have more than 100 lesions."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = coco_cls(str(path))
        anns = [a for a in gt.dataset["annotations"] if image_ids is None or a["image_id"] in image_ids]
        dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
                for a in anns]
        ev = eval_cls(gt, gt.loadRes(dets), "bbox")
        ev.params.maxDets = [1, 10, 1000]
        ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
        if image_ids is not None:
            ev.params.imgIds = sorted(image_ids)
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"][:, :, :, 0, 2]  # (iou thresholds, recall, classes) at maxDets 1000
    return gt, float(prec.mean()), float(prec[0].mean()), len(dets)


def test_pycocotools_loads_all_annotations(real_full, tmp_path):
    from pycocotools.coco import COCO

    path = save_coco(real_full, tmp_path / "coco.json")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
    assert len(gt.getAnnIds()) == 32443
    assert len(gt.getImgIds()) == 1204
    assert min(gt.getAnnIds()) == 1  # shifted from 0, see coco.py
    names = {c["name"] for c in gt.loadCats(gt.getCatIds())}
    assert names == {"acne"}


def test_self_eval_full_file_is_perfect(real_full, tmp_path):
    """COCOeval of the whole export against itself (faster-coco-eval: the same algorithm as
    pycocotools' COCOeval in C++; pycocotools takes ~30 s on this machine for the full file)."""
    from faster_coco_eval import COCO, COCOeval_faster

    path = save_coco(real_full, tmp_path / "coco.json")
    _, ap, ap50, n = _self_eval(COCO, COCOeval_faster, path)
    assert n == 32443
    assert ap == pytest.approx(1.0) and ap50 == pytest.approx(1.0)


def test_pycocotools_self_eval_is_perfect(real_full, tmp_path):
    """pycocotools COCOeval on the images holding annotation id 0 and the out-of-image
    circles (levle2_130.jpg), plus 60 more."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    path = save_coco(real_full, tmp_path / "coco.json")
    first = real_full.images[0].id
    odd = next(im.id for im in real_full.images if im.file_name == "levle2_130.jpg")
    ids = {first, odd} | {im.id for im in real_full.images[1::20]}
    _, ap, ap50, n = _self_eval(COCO, COCOeval, path, ids)
    assert n > 1000
    assert ap == pytest.approx(1.0) and ap50 == pytest.approx(1.0)


def test_annotation_id_zero_would_break_cocoeval(tmp_path):
    """Why ids are shifted: unshifted, pycocotools counts the match of annotation 0 as a
    false positive."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    obj = {"images": [{"id": 0, "file_name": "a.jpg", "width": 100, "height": 100}],
           "annotations": [{"id": i, "image_id": 0, "coordinates": [10 + 20 * i, 50], "radius": 5,
                            "class_name": "acne"} for i in range(3)]}
    from acnekit.validate import parse_dataset

    ds, _ = parse_dataset(obj)
    coco = dataset_to_coco(ds)
    assert [a["id"] for a in coco["annotations"]] == [1, 2, 3]
    assert coco["acnekit"] == {"annotation_id_offset": 1}
    assert coco_to_dataset(_through_json(coco)).equals(ds)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(coco))
    bad = tmp_path / "bad.json"
    for a in coco["annotations"]:
        a["id"] -= 1
    bad.write_text(json.dumps(coco))
    assert _self_eval(COCO, COCOeval, good)[1] == pytest.approx(1.0)
    assert _self_eval(COCO, COCOeval, bad)[1] < 0.99


def test_load_coco_strict_names_the_outside_circle(real_full, tmp_path):
    path = save_coco(real_full, tmp_path / "coco.json")
    with pytest.raises(DatasetError, match="levle2_130.jpg") as err:
        load_coco(path)
    assert err.value.where.startswith("annotations[") and "--keep-outside" in str(err.value)
    assert load_coco(path, keep_outside=True).n_lesions == 32443
