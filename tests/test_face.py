"""Face geometry: iris scale maths, ROI crops, mask and regions on synthetic geometry; the
ONNX face models on a real full-resolution photo (skipped when ../shared/data is absent)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from acnekit.face import iris, landmarks, mask, regions


# ---------------------------------------------------------------------------- iris maths
def circle_iris(cx: float, cy: float, r: float, squash: float = 1.0) -> np.ndarray:
    """Centre + four boundary points (right, top, left, bottom) of an iris seen at an angle
    (horizontal axis foreshortened by ``squash``)."""
    return np.array([[cx, cy], [cx + r * squash, cy], [cx, cy - r], [cx - r * squash, cy], [cx, cy + r]])


def eye(name: str, d_px: float, width: float, squash: float = 1.0) -> iris.EyeMeasure:
    corners = np.array([[0.0, 0.0], [width, 0.0]])
    return iris.measure_eye(name, circle_iris(50, 50, d_px / 2, squash), corners)


def test_long_axis_is_the_diameter_of_a_foreshortened_iris():
    e = eye("left", 117.0, 300, squash=0.4)  # a 70-degree side view squashes the width
    assert e.diameter_px == pytest.approx(117.0)
    assert e.minor_px == pytest.approx(117.0 * 0.4)
    assert e.px_per_mm == pytest.approx(10.0)


def test_two_agreeing_eyes_are_averaged():
    out = iris.iris_scale([eye("left", 117.0, 300), eye("right", 128.7, 290)])
    assert out["px_per_mm"] == pytest.approx(10.5)
    assert all(e["used"] for e in out["eyes"].values())
    rel = out["uncertainty"] / out["px_per_mm"]
    assert rel == pytest.approx(math.hypot(0.5 / 11.7, 0.05 / math.sqrt(2)))


@pytest.mark.parametrize("other_px,other_width,why", [
    (70.0, 290, "disagrees"),  # occluded far eye, same apparent width: rejected for disagreement
    (115.0, 120, "foreshortened"),  # side view: the far eye is much narrower
])
def test_the_nearer_eye_wins_and_the_other_is_rejected(other_px, other_width, why):
    out = iris.iris_scale([eye("left", other_px, other_width), eye("right", 140.4, 300)])
    assert out["px_per_mm"] == pytest.approx(12.0)
    assert out["eyes"]["right"]["used"] and not out["eyes"]["left"]["used"]
    assert why in out["eyes"]["left"]["rejected"]


def test_implausible_or_tiny_irises_give_no_scale():
    assert iris.iris_scale([eye("left", 4.0, 30)])["px_per_mm"] is None  # too small to measure
    # the face would be 40 mm high at this scale
    out = iris.iris_scale([eye("left", 117.0, 300)], face_height_px=400.0)
    assert out["px_per_mm"] is None and "implausible" in out["note"]
    assert iris.iris_scale([eye("left", 117.0, 300)], face_height_px=1800.0)["px_per_mm"] == pytest.approx(10.0)


# ---------------------------------------------------------------------------- ROI crops
@pytest.mark.parametrize("roi,flip", [
    ((500.0, 600.0, 400.0, 0.0), False),
    ((500.0, 600.0, 400.0, 0.3), False),  # rolled
    ((500.0, 600.0, 400.0, -0.4), True),  # rolled and mirrored (right eye)
    ((600.0, 500.0, 3000.0, 0.0), False),  # larger than the photo: padded, downscaled first
])
def test_roi_crop_and_from_roi_agree(roi, flip):
    rgb = np.zeros((1000, 1200, 3), np.uint8)
    rgb[645:655, 395:405] = 255  # a bright dot centred at (400, 650)
    crop = landmarks.roi_crop(Image.fromarray(rgb), roi, 64, flip)[0].mean(-1)
    yx = np.argwhere(crop > crop.max() * 0.5).mean(axis=0)
    back = landmarks.from_roi(np.array([[yx[1] + 0.5, yx[0] + 0.5]]), roi, 64, flip)[0]
    tol = roi[2] / 64  # one crop pixel
    assert back == pytest.approx([400, 650], abs=tol)


def test_roi_from_points_is_level_with_the_eye_line():
    pts = np.array([[0.0, 0.0], [100.0, 100.0], [50.0, 50.0]])
    cx, cy, side, ang = landmarks.roi_from_points(pts, 0, 1, 1.5)
    assert (cx, cy) == pytest.approx((50.0, 50.0))
    assert ang == pytest.approx(math.pi / 4)
    assert side == pytest.approx(math.hypot(100, 100) * 1.5)


# ---------------------------------------------------------------------------- mask, regions
def test_convex_hull_of_a_square_with_inner_points():
    pts = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [5, 5], [2, 7]], dtype=float)
    hull = mask.convex_hull(pts)
    assert len(hull) == 4 and {tuple(p) for p in hull} == {(0, 0), (10, 0), (10, 10), (0, 10)}


def test_mask_is_the_face_minus_holes():
    face = [np.array([[100, 100], [900, 100], [900, 900], [100, 900]], dtype=float)]
    hole = [np.array([[400, 400], [600, 400], [600, 600], [400, 600]], dtype=float)]
    m = mask.rasterise(face, hole, 1000, 1000, grid_side=250)
    pts = np.array([[50, 50], [200, 200], [500, 500], [850, 150], [1200, 10], [-5, 300]])
    assert m.inside(pts).tolist() == [False, True, False, True, False, False]
    assert m.area_px2() == pytest.approx(800 * 800 - 200 * 200, rel=0.02)


def synthetic_mesh() -> np.ndarray:
    """468 points where only the region anchors matter: each region's anchors sit around
    its own centre (forehead top, cheeks either side, nose middle, chin bottom)."""
    centres = {"forehead": (500, 150), "right_cheek": (200, 550), "left_cheek": (800, 550),
               "nose": (500, 500), "chin": (500, 880)}
    xy = np.full((468, 2), 500.0)
    rng = np.random.default_rng(0)
    for name, idx in regions.ANCHORS.items():
        xy[list(idx)] = np.array(centres[name]) + rng.normal(0, 20, (len(idx), 2))
    return xy


def test_points_take_the_region_of_their_nearest_anchors():
    xy = synthetic_mesh()
    lab = regions.label_points(xy, np.array([[500, 100], [150, 600], [850, 500], [510, 480], [500, 950]]))
    assert [regions.NAMES[k] for k in lab] == ["forehead", "right_cheek", "left_cheek", "nose", "chin"]


def test_region_summary_scaled_and_unscaled():
    skin = {"forehead": 1e6, "left_cheek": 2e6, "right_cheek": 10.0, "nose": 4e5, "chin": 5e5}
    r = np.array([10.0, 10.0, 5.0])
    out = regions.region_summary(r, ["forehead", "forehead", "chin"], skin, px_per_mm=10.0)
    assert "right_cheek" not in out  # not shown: a sliver of the skin
    assert out["forehead"]["count"] == 2
    assert out["forehead"]["skin_area_cm2"] == pytest.approx(100.0)
    assert out["forehead"]["per_cm2"] == pytest.approx(0.02)
    assert out["forehead"]["area_mm2"] == pytest.approx(2 * math.pi)
    assert out["left_cheek"]["count"] == 0
    raw = regions.region_summary(r, ["forehead", "forehead", "chin"], skin, px_per_mm=None)
    assert raw["chin"]["area_px2"] == pytest.approx(25 * math.pi) and raw["chin"]["per_cm2"] is None


# ---------------------------------------------------------------------------- real photos
def test_face_and_two_irises_on_a_full_resolution_photo(fullres_face):
    rgb, fa = fullres_face
    assert fa.found and fa.face.presence > 0.9
    assert set(fa.face.irises) == {"left", "right"}
    assert 9.0 <= fa.iris["px_per_mm"] <= 15.0
    h, w = rgb.shape[:2]
    assert 0.05 < fa.mask.area_px2() / (w * h) < 0.8
    assert {"forehead", "chin", "nose"} <= set(fa.summary["regions_shown"])


# ---------------------------------------------------------------------------- summarise
def test_summarise_does_not_count_lesions_outside_the_skin():
    from acnekit.assess import summarise
    from acnekit.circles import Circles

    c = Circles(np.array([[10.0, 10], [50, 50], [90, 90]]), np.array([2.0, 3.0, 4.0]))
    extra = [{"in_skin": True, "region": "forehead"}, {"in_skin": False, "region": None}, {}]  # absent = counted
    face = {"found": True, "region_skin_area_px2": {"forehead": 1e4, "chin": 1e4}}
    # all three graded: the one outside the skin must not reach the reference grade's count either
    s = summarise(c, 100, 100, px_per_mm=2.0, lesion_extra=extra, face=face, graded=[True, True, True])
    assert s["count"] == 2 and s["grade"]["count"] == 2 and s["count_band"]["count"] == 2
    assert s["total_area_px2"] == pytest.approx(np.pi * (4 + 16))
    assert s["face"]["outside_skin"] == 1
    assert s["regions"]["forehead"]["count"] == 1 and s["regions"]["chin"]["count"] == 0
    assert s["regions"]["forehead"]["skin_area_cm2"] == pytest.approx(1e4 / 4 / 100)
    plain = summarise(c, 100, 100, px_per_mm=2.0)  # old JSON: no flags, everything counts
    assert plain["count"] == 3 and plain["face"] is None and plain["regions"] is None


def test_working_scale_rule_face_or_area():
    from acnekit.face.working import TRAIN_FACE_PX, face_working_scale

    ws = {"rule": "area", "area": 640 * 640}
    s, rec = face_working_scale(2 * TRAIN_FACE_PX, 3000, 3000, ws)
    assert s == pytest.approx(0.5) and rec["rule"] == "face"
    s, rec = face_working_scale(None, 3000, 3000, ws, reason="no face found")
    assert s is None and rec["rule"] == "area" and "no face found" in rec["reason"]
    s, rec = face_working_scale(TRAIN_FACE_PX * 1.05, 640, 640, ws)  # no snap by default: the face decides
    assert s == pytest.approx(1 / 1.05) and rec["rule"] == "face" and not rec["snapped"]
    s, rec = face_working_scale(1.0, 640, 640, ws)  # absurdly small face: clamped to 4x the side
    assert s == pytest.approx(4.0) and "clamped" in rec["reason"]


# ---------------------------------------------------------------------------- framing (real)
def _variants(rgb: np.ndarray) -> dict[str, tuple[np.ndarray, float, tuple[float, float]]]:
    """name -> (photo, scale vs the original, offset of the original in it)."""
    from acnekit.imageio import resize_rgb

    h, w = rgb.shape[:2]
    out = {}
    for share in (0.25, 0.5):
        py, px = round(h * share / 2), round(w * share / 2)
        out[f"pad{int(share * 100)}"] = (np.pad(rgb, ((py, py), (px, px), (0, 0)), constant_values=128), 1.0,
                                         (px, py))
    out["half"] = (resize_rgb(rgb, w // 2, h // 2), 0.5, (0.0, 0.0))
    return out


@pytest.mark.parametrize("name", ["levle0_2.jpg"])
def test_padding_and_downscaling_keep_the_count(name):
    from conftest import FULLRES

    from acnekit.assess import assess_photo
    from acnekit.detector.infer import DEFAULT_MODEL, Detector
    from acnekit.imageio import read_image, resize_rgb

    path = FULLRES / name
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (see ../shared/data/README.md)")
    if not landmarks.available() or not DEFAULT_MODEL.exists():
        pytest.skip("onnxruntime or the shipped detector is missing")
    det = Detector.load()
    rgb = read_image(path)
    rgb = resize_rgb(rgb, rgb.shape[1] // 2, rgb.shape[0] // 2)  # keep the test quick: 1556x1728
    import io

    from PIL import Image

    def run(img):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "PNG")
        return assess_photo(buf.getvalue(), det)

    base = run(rgb)
    assert base.summary["face"]["found"] and base.summary["model"]["working_scale"]["rule"] == "face"
    n0, ppm0 = base.summary["count"], base.summary["scale"]["px_per_mm"]
    for vname, (img, k, (ox, oy)) in _variants(rgb).items():
        a = run(img)
        n = a.summary["count"]
        assert abs(n - n0) <= max(4, 0.15 * n0), (vname, n, n0)
        ins = np.array([e["in_skin"] for e in a.lesion_extra])
        xy = a.circles.xy[ins]
        h, w = rgb.shape[:2]
        inside = (xy[:, 0] >= ox) & (xy[:, 0] <= ox + w * k) & (xy[:, 1] >= oy) & (xy[:, 1] <= oy + h * k)
        assert inside.all(), f"{vname}: a counted lesion in the border"
        assert a.summary["scale"]["px_per_mm"] == pytest.approx(ppm0 * k, rel=0.10), vname


# ---------------------------------------------------------------------------- ROI settling
def test_settle_roi_reaches_the_fixed_point_from_either_side(monkeypatch):
    """A stand-in mesh whose extent follows the ROI it is given (extent = 0.6 x side + 60, the
    slow pull the real mesh shows): the ROI side settles where side = 1.5 x extent, i.e. 300,
    from a ROI too large (a padded photo) and too small alike, in few passes."""
    unit = np.random.default_rng(0).uniform(-0.5, 0.5, size=(468, 3))
    unit[landmarks.EYE_CORNERS["left"][0], :2] = (-0.5, 0.0)  # eye line level: no roll
    unit[landmarks.EYE_CORNERS["right"][1], :2] = (0.5, 0.0)
    unit[0, :2] = (0.0, -0.5)
    unit[1, :2] = (0.0, 0.5)  # extent 1 x 1
    calls = []

    def fake_pass(img, roi):
        calls.append(roi)
        cx, cy, side, _ = roi
        extent = 0.6 * side + 60.0
        return unit * extent + [cx + 3.0, cy - 2.0, 0.0], 0.9

    monkeypatch.setattr(landmarks, "mesh_pass", fake_pass)
    fixed = 1.5 * 60.0 / (1 - 1.5 * 0.6)  # side = 1.5 (0.6 side + 60)  ->  900
    for start in (2000.0, 450.0):
        calls.clear()
        mesh, p, roi, passes = landmarks.settle_roi(None, (500.0, 500.0, start, 0.0))
        assert roi[2] == pytest.approx(fixed, rel=2 * landmarks.ROI_TOL)
        assert passes <= 8 and passes == len(calls)  # plain iteration would need about 50
        assert mesh[:, :2].mean(axis=0) == pytest.approx(unit[:, :2].mean(axis=0) * (0.6 * roi[2] + 60)
                                                         + [roi[0] + 3.0, roi[1] - 2.0])  # the ROI's own mesh
    calls.clear()
    landmarks.settle_roi(None, (500.0, 500.0, 3000.0, 0.0), max_passes=3)
    assert len(calls) == 3  # the cap holds


def test_low_resolution_flag_and_note():
    from acnekit.face.working import TRAIN_FACE_PX, UPSAMPLE_WARN, face_working_scale

    ws = {"rule": "area", "area": 640 * 640}
    s, rec = face_working_scale(TRAIN_FACE_PX / 2, 320, 320, ws)  # a half-size 640 copy: enlarged 2x
    assert s == pytest.approx(2.0) and rec["low_resolution"]
    assert "2.00x" in rec["resolution_note"] and len(rec["resolution_note"]) <= 300  # the web's limit
    s, rec = face_working_scale(TRAIN_FACE_PX / (UPSAMPLE_WARN * 0.99), 640, 640, ws)
    assert not rec["low_resolution"] and "resolution_note" not in rec
    s, rec = face_working_scale(TRAIN_FACE_PX * 5, 3000, 3000, ws)  # a downscale never warns
    assert not rec["low_resolution"]


def test_a_small_photo_of_a_face_gets_the_low_resolution_warning(acne640):
    """A 640 val photo halved (a face of about 83 px): the face rule enlarges it about 2x and the
    assessment says the count may be low; the 640 photo itself gets no such warning."""
    import io

    from acnekit.assess import assess_photo
    from acnekit.detector.infer import DEFAULT_MODEL, Detector
    from acnekit.imageio import read_image, resize_rgb

    if not landmarks.available() or not DEFAULT_MODEL.exists():
        pytest.skip("onnxruntime or the shipped detector is missing")
    det = Detector.load()
    rgb = read_image(acne640 / "images" / "levle0_103.jpg")

    def run(img):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "PNG")
        return assess_photo(buf.getvalue(), det).summary

    full = run(rgb)
    assert full["face"]["found"] and not full["model"]["working_scale"]["low_resolution"]
    assert not any("enlarged" in w for w in full.get("warnings", []))
    half = run(resize_rgb(rgb, 320, 320))
    ws = half["model"]["working_scale"]
    assert ws["rule"] == "face" and ws["low_resolution"] and ws["scale"] > 1.6
    assert ws["resolution_note"] in half["warnings"]
