"""The face geometry carried in the assessment JSON (``summary.face.geometry``, issue 16): its
JSON round trip gives assess's own in_skin / region flags, and the web's `rebuild` gives them
to lesions added by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from acnekit.errors import DatasetError
from acnekit.face import geometry, regions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _web_server import fake_geometry  # noqa: E402
from test_face import synthetic_mesh  # noqa: E402

W, H = 320, 240


def grid_points(w: int, h: int, n: int = 20000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform([-20, -20], [w + 20, h + 20], (n, 2))


# ---------------------------------------------------------------------------- the JSON form
def test_points_text_round_trip_to_a_tenth_of_a_pixel():
    xy = np.array([[12.34, -0.04], [100.0, 2.25], [-3.16, 7.0]])
    text = geometry.points_text(xy)
    assert text == "12.3,0 100,2.2 -3.2,7"  # trailing .0 dropped, -0 written 0, halves to even
    back = geometry.parse_points(text, "x")
    assert np.abs(back - xy).max() <= 0.05 + 1e-9
    assert geometry.points_text(back) == text


def test_synthetic_mesh_geometry_reproduces_its_flags_after_json():
    mesh = synthetic_mesh()  # test_face's: only the region anchors are placed
    g = geometry.from_mesh(mesh, 1000, 1000)
    back = geometry.FaceGeometry.from_json(json.loads(json.dumps(g.to_json())), image_size=(1000, 1000))
    pts = grid_points(1000, 1000)
    ins, lab = g.flags(pts)
    ins2, lab2 = back.flags(pts)
    assert ins.tolist() == ins2.tolist() and lab == lab2
    assert ins.any() and not ins.all()
    assert back.mask.area_px2() == g.mask.area_px2()
    # regions by nearest anchor, as regions.label_points on the unrounded mesh (rounding moves anchors <= 0.05 px)
    same = back.region_index(pts) == regions.label_points(mesh, pts)
    assert same.mean() > 0.999


def test_hand_built_geometry_flags():
    g = fake_geometry(W, H)
    ins, lab = g.flags(np.array([[60, 50], [200, 120], [100, 180], [250, 40], [400, 10]]))
    assert ins.tolist() == [False, True, True, True, False]  # hair corner; off the photo
    assert lab == [None, "right_cheek", "chin", "forehead", None]
    assert g.region_index(np.array([[60, 50]])).tolist() == [regions.NAMES.index("forehead")]  # nearest, on skin or not


@pytest.mark.parametrize("edit, where, value", [
    (lambda g: g.update(version=2), "summary.face.geometry.version", "2"),  # unknown version
    (lambda g: g.update(version=True), "summary.face.geometry.version", "true"),  # not 1
    (lambda g: g.update(image_size=[320]), "summary.face.geometry.image_size", "[320]"),
    (lambda g: g.update(image_size=[640, 480]), "summary.face.geometry.image_size", "640x480"),  # another photo
    (lambda g: g.update(grid_side=True), "summary.face.geometry.grid_side", "true"),
    (lambda g: g.update(skin=[]), "summary.face.geometry.skin", "[]"),  # no skin at all
    (lambda g: g.update(skin=5), "summary.face.geometry.skin", "5"),  # not a list
    (lambda g: g["skin"].__setitem__(0, [[0, 0], [1, 1], [2, 0]]), "summary.face.geometry.skin[0]", "[[0, 0]"),
    (lambda g: g["holes"].__setitem__(0, "0,0 90,0 90,x"), "summary.face.geometry.holes[0]", "90,x"),
    (lambda g: g["holes"].__setitem__(0, "0,0 90,0"), "summary.face.geometry.holes[0]", "at least 3"),
    (lambda g: g["skin"].__setitem__(0, "0,0 1e9,0 9,9"), "summary.face.geometry.skin[0]", "1e9,0"),
    (lambda g: g["skin"].__setitem__(0, "0,0 nan,0 9,9"), "summary.face.geometry.skin[0]", "nan,0"),
    (lambda g: g.update(region_anchors={"ear": "1,1"}), "summary.face.geometry.region_anchors", "ear"),
    (lambda g: g["region_anchors"].update(chin=""), "summary.face.geometry.region_anchors.chin", "at least 1"),
    (lambda g: g.update(holes=["0,0 1,0 1,1"] * 33), "summary.face.geometry.holes", "32 polygons"),
    (lambda g: g["skin"].__setitem__(0, " ".join(["1,1"] * 5001)), "summary.face.geometry", "5008 points"),
])
def test_malformed_geometry_is_one_clear_error(edit, where, value):
    g = fake_geometry(W, H).to_json()
    edit(g)
    with pytest.raises(DatasetError) as e:
        geometry.FaceGeometry.from_json(g, image_size=(W, H))
    assert e.value.where == where and value in e.value.detail, str(e.value)


# ---------------------------------------------------------------------------- a real photo
def test_geometry_round_trip_on_a_full_resolution_photo(fullres_face):
    """The JSON geometry of a real face gives assess's own flags (assess builds its mask and
    regions from this same rounded geometry), and it stays a few KB."""
    rgb, fa = fullres_face
    h, w = rgb.shape[:2]
    text = json.dumps(fa.summary["geometry"])
    assert 1000 < len(text) < 6000
    back = geometry.FaceGeometry.from_json(json.loads(text), image_size=(w, h))
    pts = grid_points(w, h, 50000)
    ins, lab = fa.lesion_flags(pts)
    ins2, lab2 = back.flags(pts)
    assert ins.tolist() == ins2.tolist() and lab == lab2
    assert 0.05 < ins.mean() < 0.8 and set(lab) - {None} == set(regions.NAMES)
    assert regions.region_areas(back.region_index, back.mask) == fa.summary["region_skin_area_px2"]


# ---------------------------------------------------------------------------- web rebuild
def edited_assessment(extra_lesions):
    """An assessment of a 320 x 240 photo with the stand-in face geometry: one detected lesion
    in the right cheek, then ``extra_lesions`` (x, y, fields)."""
    anns = [{"id": 0, "image_id": 0, "coordinates": [200.0, 120.0], "radius": 12.0, "class_name": "acne",
             "score": 0.9, "source": "model", "in_skin": True, "region": "right_cheek"}]
    for i, (x, y, fields) in enumerate(extra_lesions, 1):
        anns.append({"id": i, "image_id": 0, "coordinates": [x, y], "radius": 5.0, "class_name": "acne", **fields})
    face = {"found": True, "region_skin_area_px2": {"forehead": 2e4, "right_cheek": 1.5e4, "chin": 8e3},
            "geometry": fake_geometry(W, H).to_json()}
    return {"images": [{"id": 0, "file_name": "p.png", "width": W, "height": H}], "annotations": anns,
            "summary": {"face": face}}


def test_rebuild_gives_added_lesions_their_region_and_skin():
    from acnekit.web.service import resummarise

    added = {"source": "added"}
    d = resummarise(edited_assessment([(250.0, 40.0, added), (100.0, 200.0, added), (30.0, 30.0, added),
                                       (60.0, 50.0, {"source": "model", "score": 0.5, "in_skin": True,
                                                     "region": None})]))
    anns = d["annotations"]
    assert [(a["in_skin"], a["region"]) for a in anns] == [
        (True, "right_cheek"), (True, "forehead"), (True, "chin"),
        (False, None),  # added on hair: flagged, kept, not counted
        (True, "forehead")]  # restored by the reviewer: kept on skin, given its nearest region
    s = d["summary"]
    assert s["count"] == 4 and s["face"]["outside_skin"] == 1 and s["edits"]["outside_skin"] == 1
    assert {k: v["count"] for k, v in s["regions"].items()} == {"forehead": 2, "right_cheek": 1, "chin": 1}
    assert s["face"]["geometry"] == fake_geometry(W, H).to_json()  # carried on for the next edit


def test_rebuild_without_geometry_leaves_added_lesions_as_before():
    from acnekit.web.service import resummarise

    a = edited_assessment([(30.0, 30.0, {"source": "added"})])
    del a["summary"]["face"]["geometry"]  # old JSON
    d = resummarise(a)
    assert "in_skin" not in d["annotations"][1] and d["summary"]["count"] == 2


def test_rebuild_refuses_malformed_geometry_with_its_path():
    from acnekit.web.service import rebuild

    a = edited_assessment([(30.0, 30.0, {"source": "added"})])
    a["summary"]["face"]["geometry"]["skin"] = ["0,0 320,0 oops"]
    with pytest.raises(DatasetError, match=r"summary\.face\.geometry\.skin\[0\]: point 2 .* got \"oops\""):
        rebuild(a)
