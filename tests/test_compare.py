"""acnekit compare: registration, one-to-one matching, JSON, side-by-side image, CLI.

Synthetic visits: red discs on a textured skin image (pores and blotches give ORB keypoints);
AFTER is the same skin with some discs removed and some added, moved by a known similarity
transform. The stand-in detector finds the red discs exactly, so the counts are exact."""

import json

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from acnekit.cli import main
from acnekit.compare import RegistrationError, compare_lesions, compare_photos, match_circles, register
from acnekit.compare.register import apply
from acnekit.compare.report import OUTPUT_NAMES, render_outputs, side_by_side_size

from _assess_fake import FakeDetector

H, W = 420, 480
RED = (220, 30, 30)
# before-frame discs (x, y, r); the first 8 persist, the next 3 resolve; ADDED appear after
KEPT = [(150, 130, 9), (230, 120, 7), (320, 140, 10), (170, 210, 8), (260, 200, 6), (330, 230, 9),
        (190, 290, 7), (290, 300, 10)]
REMOVED = [(120, 180, 8), (360, 180, 7), (240, 250, 9)]
ADDED = [(210, 160, 8), (300, 260, 7)]
ANGLE, SCALE, SHIFT = 6.0, 0.88, (22.0, -15.0)  # before -> after


def skin(seed: int, h: int = H, w: int = W) -> np.ndarray:
    """Skin-coloured texture: smooth blotches + dark pores, so keypoints exist everywhere."""
    rng = np.random.default_rng(seed)
    blot = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 6) * 60
    fine = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 1.2) * 25
    pores = ndimage.gaussian_filter((rng.random((h, w)) < 0.004).astype(float), 1.0) * -400
    base = np.array([205, 160, 140], float)
    img = base + (blot + fine + pores)[..., None] * np.array([1.0, 0.9, 0.85])
    return np.clip(img, 0, 255).astype(np.uint8)


def with_discs(img: np.ndarray, discs) -> np.ndarray:
    out = img.copy()
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    for x, y, r in discs:
        out[(xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= r * r] = RED
    return out


def true_matrix() -> np.ndarray:
    """BEFORE px -> AFTER px."""
    m = cv2.getRotationMatrix2D((W / 2, H / 2), ANGLE, SCALE)
    m[:, 2] += SHIFT
    return m


def visits(seed: int = 3):
    texture = skin(seed)
    before = with_discs(texture, KEPT + REMOVED)
    scene = with_discs(texture, KEPT + ADDED)
    after = cv2.warpAffine(scene, true_matrix(), (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return before, after


def save(tmp_path, before, after):
    pb, pa = tmp_path / "before.png", tmp_path / "after.png"
    Image.fromarray(before).save(pb)
    Image.fromarray(after).save(pa)
    return pb, pa


@pytest.fixture
def cli_det(monkeypatch):
    d = FakeDetector()
    monkeypatch.setattr("acnekit.commands.compare.load_detector", lambda path: d)
    return d


# ---------------------------------------------------------------------------- registration
def test_register_recovers_known_similarity():
    before, after = visits()
    reg = register(before, after)
    want = cv2.invertAffineTransform(true_matrix())  # AFTER -> BEFORE
    pts = np.array([[100.0, 100.0], [380.0, 120.0], [240.0, 330.0]])
    assert np.abs(apply(reg.matrix, pts) - apply(want, pts)).max() < 1.5
    assert reg.scale == pytest.approx(1 / SCALE, rel=0.01)
    assert reg.rotation_deg == pytest.approx(ANGLE, abs=0.5)  # undoes cv2's counter-clockwise turn
    assert reg.inliers >= 25 and reg.median_error_px < 1.5


def test_register_unrelated_textures_is_a_clear_error():
    with pytest.raises(RegistrationError, match="cannot register the two photos"):
        register(skin(1), skin(2))


def test_register_hint_far_off_leaves_too_few_matches():
    before, after = visits()
    far = np.array([[1.0, 0, 200.0], [0, 1.0, 150.0]])  # a wrong prior: keeps no true match
    with pytest.raises(RegistrationError):
        register(before, after, hint=far, hint_tol=0.02)
    good = cv2.invertAffineTransform(true_matrix())
    assert register(before, after, hint=good).hint_used


# ---------------------------------------------------------------------------- matching
def test_match_one_to_one_with_gate():
    a = np.array([[0.0, 0], [10, 0], [100, 100]])
    b = np.array([[1.0, 0], [9, 0], [11, 0], [300, 300]])
    r = np.full(4, 4.0)
    pairs = match_circles(a, r[:3], b, r)
    assert sorted((i, j) for i, j, _ in pairs) == [(0, 0), (1, 1)] or sorted((i, j) for i, j, _ in pairs) == [(0, 0), (1, 2)]
    assert len({j for _, j, _ in pairs}) == len(pairs)
    assert match_circles(a, r[:3], np.array([[50.0, 50]]), r[:1]) == []  # beyond 1.5 radii: no pair
    assert len(match_circles(a, r[:3], np.array([[50.0, 50]]), r[:1], floor_px=80)) == 1  # a wider floor gate
    assert match_circles(np.zeros((0, 2)), np.zeros(0), b, r) == []


def _assessment(name, w, h, discs):
    return {"images": [{"id": 0, "file_name": name, "width": w, "height": h}],
            "annotations": [{"id": i, "image_id": 0, "coordinates": [x, y], "radius": r, **extra}
                            for i, (x, y, r, extra) in enumerate(discs)],
            "summary": {"severity": {"score": 10.0}, "grade": {"grade": 1}}}


def test_compare_lesions_counts_flags_and_outside():
    eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    before = _assessment("b", 200, 100, [(20, 20, 5, {"graded": True}), (60, 20, 5, {"graded": False}),
                                         (100, 50, 5, {"graded": True}), (150, 50, 5, {"in_skin": False})])
    after = _assessment("a", 200, 100, [(21, 20, 5, {"graded": True}), (100, 80, 5, {"graded": True}),
                                        (60, 21, 5, {"removed": True})])
    out = compare_lesions(before, after, eye, px_per_mm=10.0)
    assert out["counts"] == {"before": 3, "after": 2, "persisting": 1, "new": 1, "resolved": 2,
                             "before_outside": 0, "after_outside": 0, "persisting_linked": 1, "persisting_faint": 0,
                             "persisting_faint_before": 0, "persisting_faint_after": 0,
                             "before_not_counted": 1, "after_not_counted": 1}
    assert out["links"][0]["before"] == 0 and out["links"][0]["after"] == 0
    assert out["changes"]["graded_count"]["before"] == 2 and out["changes"]["graded_count"]["after"] == 2
    assert out["changes"]["density"]["unit"] == "lesions per cm2"
    # AFTER lands 150 px to the left: only BEFORE's left 50 px are common; the lesion at
    # x=20 is inside, x=60 and x=100 outside; AFTER's lesions land at x=-129 and x=-50
    shift = np.array([[1.0, 0, -150], [0, 1.0, 0]])
    out = compare_lesions(before, after, shift)
    assert out["counts"]["before_outside"] == 2 and out["counts"]["after_outside"] == 2
    assert out["counts"]["resolved"] == 1 and out["counts"]["new"] == 0
    assert out["common_region"]["share_of_before"] == pytest.approx(0.25)


def test_support_polygon_cuts_the_common_region():
    eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    before = _assessment("b", 200, 100, [(20, 20, 5, {}), (150, 50, 5, {})])
    after = _assessment("a", 200, 100, [(20, 21, 5, {}), (170, 80, 5, {})])
    left = np.array([[0.0, 0], [100, 0], [100, 100], [0, 100]])  # inliers only on the left half
    out = compare_lesions(before, after, eye, support=left)
    c = out["counts"]
    assert (c["persisting"], c["new"], c["resolved"], c["before_outside"], c["after_outside"]) == (1, 0, 0, 1, 1)
    assert out["common_region"]["share_of_before"] == pytest.approx(0.5)


def test_hysteresis_faint_detection_keeps_a_lesion_persisting():
    from acnekit.circles import Circles

    eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    before = _assessment("b", 200, 100, [(20, 20, 5, {}), (100, 50, 5, {})])
    after = _assessment("a", 200, 100, [(20, 21, 5, {}), (160, 50, 5, {})])
    strict = compare_lesions(before, after, eye)
    assert (strict["counts"]["resolved"], strict["counts"]["new"]) == (1, 1)
    # AFTER scored the lesion at (100, 50) below the threshold; BEFORE had nothing at (160, 50)
    faint = (Circles.empty(with_score=True), Circles([[101.0, 50.0]], [4.0], [0.2]))
    out = compare_lesions(before, after, eye, faint=faint)
    c = out["counts"]
    assert (c["persisting"], c["resolved"], c["new"], c["persisting_linked"], c["persisting_faint"]) == (2, 0, 1, 1, 1)
    assert (c["persisting_faint_before"], c["persisting_faint_after"]) == (1, 0)
    # the other way round: AFTER's lesion at (160, 50) had a faint BEFORE detection
    out = compare_lesions(before, after, eye, faint=(Circles([[158.0, 51.0]], [4.0], [0.2]), faint[1]))
    c = out["counts"]
    assert (c["persisting"], c["new"], c["resolved"], c["persisting_faint_after"]) == (3, 0, 0, 1)
    assert c["before"] == c["persisting_linked"] + c["persisting_faint_before"] + c["resolved"] + c["before_outside"]
    assert c["after"] == c["persisting_linked"] + c["persisting_faint_after"] + c["new"] + c["after_outside"]
    row = out["lesions"]["before"][1]
    assert row["status"] == "persisting" and row["faint"] and row["match"] is None
    assert len(out["links"]) == 1


# ---------------------------------------------------------------------------- whole pipeline
def test_compare_photos_exact_counts(tmp_path):
    before, after = visits()
    pb, pa = save(tmp_path, before, after)
    cmp = compare_photos(pb, pa, FakeDetector(), px_per_mm=8.0)
    d = cmp.to_dict()
    assert d["counts"] == {"before": 11, "after": 10, "persisting": 8, "new": 2, "resolved": 3,
                           "before_outside": 0, "after_outside": 0, "persisting_linked": 8, "persisting_faint": 0,
                           "persisting_faint_before": 0, "persisting_faint_after": 0,
                           "before_not_counted": 0, "after_not_counted": 0}
    assert len(d["links"]) == 8
    # every link joins the same physical disc: before centre vs AFTER's mapped centre
    bxy = {a["id"]: a["coordinates"] for a in d["assessments"]["before"]["annotations"]}
    assert max(lk["distance_px"] for lk in d["links"]) < 3
    linked = {tuple(np.round(bxy[lk["before"]])) for lk in d["links"]}
    assert linked == {(float(x), float(y)) for x, y, _ in KEPT}
    # AFTER's scale carried over by the registration
    assert d["summaries"]["after"]["scale"]["px_per_mm"] == pytest.approx(8.0 * SCALE, rel=0.02)
    assert d["changes"]["count"]["before"] == 11 and d["changes"]["count"]["after"] == 10


def test_json_schema_fields(tmp_path):
    before, after = visits()
    pb, pa = save(tmp_path, before, after)
    d = json.loads(compare_photos(pb, pa, FakeDetector()).to_json())
    assert set(d["counts"]) >= {"before", "after", "persisting", "new", "resolved"}
    assert {"before", "after", "distance_px"} <= set(d["links"][0])
    reg = d["registration"]
    assert np.array(reg["matrix"]).shape == (2, 3)
    assert {"inliers", "inlier_ratio", "median_reprojection_error_px"} <= set(reg["quality"])
    assert {"count", "graded_count", "area_px2", "area_mm2", "density", "severity_score"} <= set(d["changes"])
    assert d["summaries"]["before"]["count"] == 11 and d["summaries"]["after"]["count"] == 10
    statuses = {r["status"] for r in d["lesions"]["before"]} | {r["status"] for r in d["lesions"]["after"]}
    assert statuses == {"persisting", "new", "resolved"}


def test_side_by_side_size_and_outputs():
    import io

    before, after = visits()
    cmp = compare_photos(_bytes(before), _bytes(after), FakeDetector(), names=("b.png", "a.png"))
    files = render_outputs(cmp.to_dict(), cmp.before.rgb, cmp.after.rgb)
    assert set(files) == set(OUTPUT_NAMES)
    img = Image.open(io.BytesIO(files["side_by_side.jpg"]))
    assert img.size == side_by_side_size((H, W))
    assert img.size[0] == 2 * W + 8 and img.size[1] > H
    html = files["report.html"].decode()
    assert "data:image/jpeg;base64," in html and "<script" not in html
    big = side_by_side_size((3456, 3112))
    assert max(big) <= 2 * 1600 + 8


def _bytes(rgb):
    import io

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------- CLI
def test_cli_compare_writes_three_files(tmp_path, cli_det, capsys):
    pb, pa = save(tmp_path, *visits())
    out = tmp_path / "cmp"
    assert main(["compare", str(pb), str(pa), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_NAMES)
    line = capsys.readouterr().out
    assert "8 persisting, 2 new, 3 resolved" in line
    # existing folder: refused without --force, replaced with it (other files left alone)
    (out / "notes.txt").write_text("mine")
    assert main(["compare", str(pb), str(pa), "--out", str(out)]) == 2
    assert main(["compare", str(pb), str(pa), "--out", str(out), "--force"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_cli_unrelated_photos_refused_nothing_written(tmp_path, cli_det, capsys):
    pb, pa = save(tmp_path, with_discs(skin(1), KEPT), with_discs(skin(2), KEPT))
    out = tmp_path / "cmp"
    assert main(["compare", str(pb), str(pa), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot register the two photos" in err[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["after.png", "before.png"]


def test_cli_refuses_to_overwrite_an_input(tmp_path, cli_det):
    before, after = visits()
    out = tmp_path / "cmp"
    out.mkdir()
    pb = out / "before.png"
    Image.fromarray(before).save(pb)
    Image.fromarray(with_discs(after, [])).save(out / "side_by_side.jpg", "JPEG")
    assert main(["compare", str(pb), str(out / "side_by_side.jpg"), "--out", str(out), "--force"]) == 2


# ---------------------------------------------------------------------------- face, skin, grade, hint
def test_not_counted_lesions_are_outside_and_counts_add_up():
    eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    before = _assessment("b", 200, 100, [(20, 20, 5, {}), (150, 50, 5, {"in_skin": False})])
    after = _assessment("a", 200, 100, [(21, 20, 5, {}), (150, 51, 5, {"in_skin": False}),
                                        (90, 50, 5, {"removed": True})])
    out = compare_lesions(before, after, eye)
    c = out["counts"]
    # the off-skin lesion at (150, 50) is in both photos but neither persists nor changes
    assert (c["before"], c["after"], c["persisting"], c["new"], c["resolved"]) == (1, 1, 1, 0, 0)
    assert (c["before_not_counted"], c["after_not_counted"]) == (1, 2)
    rows = {r["id"]: r for r in out["lesions"]["before"]}
    assert rows[1]["status"] == "outside" and rows[1]["counted"] is False and rows[1]["reason"] == "outside_skin"
    reasons = sorted(r["reason"] for r in out["lesions"]["after"] if r.get("counted") is False)
    assert reasons == ["outside_skin", "removed"]
    assert len(out["links"]) == 1
    assert c["before"] == c["persisting_linked"] + c["persisting_faint_before"] + c["resolved"] + c["before_outside"]


def test_skin_masks_cut_the_compared_region():
    from acnekit.face.mask import SkinMask

    eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    grid_b = np.zeros((100, 200), bool)
    grid_b[:, :150] = True  # BEFORE shows skin on x < 150
    grid_a = np.zeros((100, 200), bool)
    grid_a[:, 50:] = True  # AFTER on x >= 50 (hair over the left part, say)
    before = _assessment("b", 200, 100, [(20, 20, 5, {}), (100, 50, 5, {}), (120, 80, 5, {})])
    after = _assessment("a", 200, 100, [(100, 51, 5, {}), (170, 50, 5, {})])
    out = compare_lesions(before, after, eye, skin=(SkinMask(grid_b, 1.0), SkinMask(grid_a, 1.0)))
    c = out["counts"]
    # (20, 20) is off AFTER's skin and (170, 50) off BEFORE's: outside, not resolved / new
    assert (c["persisting"], c["resolved"], c["new"], c["before_outside"], c["after_outside"]) == (1, 1, 0, 1, 1)
    assert out["common_region"]["area_px2"] == pytest.approx(200 * 100)  # the frames' overlap
    assert out["changes"]["density"]["before"] == pytest.approx(2 / (100 * 100 / 1e6), rel=0.02)  # skin in both
    assert "facial skin" in out["changes"]["region"]
    # without the masks every lesion is compared
    plain = compare_lesions(before, after, eye)["counts"]
    assert (plain["resolved"], plain["new"]) == (2, 1)


def test_compare_photos_records_a_supplied_hint(tmp_path):
    before, after = visits()
    pb, pa = save(tmp_path, before, after)
    good = cv2.invertAffineTransform(true_matrix())
    d = compare_photos(pb, pa, FakeDetector(), hint=good).to_dict()
    assert d["registration"]["method"] == "landmarks+texture" and d["registration"]["hint_used"]
    assert d["counts"]["persisting"] == 8 and d["counts"]["new"] == 2 and d["counts"]["resolved"] == 3
    # the grown fit: inliers cover the whole texture, as without a hint
    plain = compare_photos(pb, pa, FakeDetector()).to_dict()
    assert plain["registration"]["method"] == "texture" and not plain["registration"]["hint_used"]
    assert "face" in plain["registration"]["hint_note"]
    assert d["registration"]["quality"]["inliers"] >= 0.9 * plain["registration"]["quality"]["inliers"]


class _ScaleFake(FakeDetector):
    def predict(self, rgb, score_thr=None, work_scale=None, source_quality=None):
        return super().predict(rgb, score_thr)


def _fake_faces(monkeypatch, before, off_disc):
    """analyse_face stand-in: a 468-point 'mesh' moved with the true transform, and a skin
    mask that leaves out the disc ``off_disc`` (x, y, r in BEFORE's frame) in both photos."""
    from acnekit.face import pipeline
    from acnekit.face.landmarks import Face
    from acnekit.face.mask import SkinMask

    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(80, 400, 468), rng.uniform(60, 360, 468)])
    m = true_matrix()
    x0, y0, r0 = off_disc
    calls = []

    def fake(rgb):
        is_before = np.array_equal(rgb, before)
        xy = pts if is_before else apply(m, pts)
        cx, cy = (x0, y0) if is_before else apply(m, [[x0, y0]])[0]
        yy, xx = np.mgrid[0:rgb.shape[0], 0:rgb.shape[1]]
        grid = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 > (2 * r0) ** 2
        calls.append(is_before)
        face = Face(np.column_stack([xy, np.zeros(len(xy))]), 0.99)
        return pipeline.FaceAnalysis(face, {"found": True}, None, SkinMask(grid, 1.0), {})

    monkeypatch.setattr(pipeline, "analyse_face", fake)
    return calls


def test_landmark_seed_and_off_skin_lesions(tmp_path, monkeypatch):
    before, after = visits()
    pb, pa = save(tmp_path, before, after)
    calls = _fake_faces(monkeypatch, before, KEPT[0])
    d = compare_photos(pb, pa, _ScaleFake(), px_per_mm=8.0).to_dict()
    assert sorted(calls) == [False, True]  # each photo's face found once
    reg = d["registration"]
    # the seeded fit was tried; it is kept when it has more inliers than texture alone
    assert (reg["method"] == "landmarks+texture" and reg["hint_used"] and reg["hint_note"] is None) \
        or "no more inliers" in reg["hint_note"]
    want = cv2.invertAffineTransform(true_matrix())
    pts = np.array([[100.0, 100.0], [380.0, 120.0], [240.0, 330.0]])
    assert np.abs(apply(np.array(reg["matrix"]), pts) - apply(want, pts)).max() < 1.5
    c = d["counts"]
    # KEPT[0] is off the skin in both photos: not counted, neither persisting nor changed
    assert (c["before"], c["after"], c["persisting"], c["new"], c["resolved"]) == (10, 9, 7, 2, 3)
    assert (c["before_not_counted"], c["after_not_counted"]) == (1, 1)
    sb, sa = d["summaries"]["before"], d["summaries"]["after"]
    assert (sb["count"], sa["count"]) == (c["before"], c["after"])
    assert all("in_skin" in a and "graded" in a for a in d["assessments"]["after"]["annotations"])
    ch = d["changes"]
    assert ch["whole_photo_count"]["before"] == 10 and ch["whole_photo_count"]["after"] == 9
    rg = ch["reference_grade"]
    assert rg["before"] == sb["grade"]["name"] and rg["after"] == sa["grade"]["name"]
    assert rg["count"]["before"] == sb["grade"]["count"] and rg["count"]["after"] == sa["grade"]["count"]
    assert ch["count_band"]["before"] == sb["count_band"]["name"]
    assert ch["scale"]["before"]["source"] == "manual" and ch["scale"]["after"]["source"] == "registered"
    assert ch["area_mm2"]["before"] is not None
    # the outside-skin lesions are drawn (grey) in the side-by-side image and the report renders
    off = [r for r in d["lesions"]["after"] if r.get("counted") is False]
    assert len(off) == 1 and len(off[0]["coordinates_in_before"]) == 2
    files = render_outputs(d, before, after)
    assert set(files) == set(OUTPUT_NAMES) and b"reference grade" in files["report.html"]


def test_landmark_seed_off_or_rejected_falls_back_to_texture(tmp_path, monkeypatch):
    from acnekit.compare.core import register_visits
    from acnekit.assess import assess_photo
    from acnekit.face.landmarks import Face

    before, after = visits()
    pb, pa = save(tmp_path, before, after)
    _fake_faces(monkeypatch, before, KEPT[0])
    ab = assess_photo(pb, _ScaleFake())
    assert ab.landmarks is not None
    off = register_visits(ab, after, ab.landmarks, landmarks=False)
    assert off.method == "texture" and off.hint_note == "landmark seed off"
    # a seed far off (the AFTER 'face' 200 px away): the texture does not confirm it
    wrong = Face(ab.landmarks.mesh + np.array([200.0, 150.0, 0.0]), 0.9)
    reg = register_visits(ab, after, wrong)
    assert reg.method == "texture" and "not confirmed" in reg.hint_note
