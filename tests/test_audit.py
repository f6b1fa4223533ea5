"""`acnekit audit` and the photo fingerprints it uses."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from acnekit.audit import coincident_circles, grade_mismatches, out_of_bounds, photo_duplicates
from acnekit.circles import Circles
from acnekit.cli import main
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import ImageError
from acnekit.photohash import HASH_BITS, byte_groups, groups_from_pairs, hamming, near_pairs, phash
from acnekit.validate import parse_dataset


def scene(seed: int, size: int = 200) -> np.ndarray:
    """A textured random 'photo' (three octaves of smooth noise), different per seed."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((size, size, 3))
    for cells, weight in ((4, 1.0), (16, 0.5), (64, 0.25)):
        small = rng.random((cells, cells, 3)).astype(np.float32)
        acc += weight * np.stack([np.asarray(Image.fromarray(small[..., c], "F").resize(
            (size, size), Image.Resampling.BICUBIC)) for c in range(3)], -1)
    acc = (acc - acc.min()) / (acc.max() - acc.min()) * 255
    return acc.astype(np.uint8)


def save(path, rgb, **kw):
    Image.fromarray(rgb).save(path, **kw)


# ---------------------------------------------------------------- perceptual hash

def test_phash_is_stable_under_resize_and_reencode_but_not_across_photos(tmp_path):
    save(tmp_path / "a.png", scene(1))
    save(tmp_path / "a_small.jpg", np.asarray(Image.fromarray(scene(1)).resize((90, 90))), quality=70)
    save(tmp_path / "b.png", scene(2))
    ha, hs, hb = (phash(tmp_path / n) for n in ("a.png", "a_small.jpg", "b.png"))
    assert ha.shape == (HASH_BITS // 64,) and ha.dtype == np.uint64
    assert hamming(ha, ha) == 0
    assert hamming(ha, hs) <= 12
    assert hamming(ha, hb) > 60


def test_phash_applies_exif_orientation(tmp_path):
    rgb = scene(3, 120)[:, :80]  # 80 wide, 120 high
    save(tmp_path / "upright.png", rgb)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: a viewer turns it 90 degrees clockwise
    Image.fromarray(np.rot90(rgb, 1)).save(tmp_path / "stored.jpg", exif=exif, quality=95)
    assert hamming(phash(tmp_path / "upright.png"), phash(tmp_path / "stored.jpg")) <= 10


def test_phash_errors_name_the_file(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"nope")
    with pytest.raises(ImageError, match="x.jpg"):
        phash(tmp_path / "x.jpg")


def test_near_pairs_matches_brute_force():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, (40, 4), dtype=np.uint64)
    h = base.copy()
    h[20:] = base[:20]
    h[20:, 0] ^= np.uint64(0b1011)  # 3 bits away from their partner
    pairs = near_pairs(list(h), 5, chunk=7)
    brute = {(i, j) for i in range(40) for j in range(i + 1, 40) if hamming(h[i], h[j]) <= 5}
    assert {(i, j) for i, j, _ in pairs.tolist()} == brute
    assert len(brute) >= 20 and all(d == hamming(h[i], h[j]) for i, j, d in pairs.tolist())


def test_groups_and_byte_groups():
    assert groups_from_pairs(5, np.array([[0, 3], [3, 4]])) == [[0, 3, 4]]
    assert byte_groups(["b", "a", "c"], ["x", "x", "y"]) == [["a", "b"]]


# ---------------------------------------------------------------- checks on circles

def ds_with(circles: dict[str, list]) -> AcneDataset:
    return AcneDataset([ImageRecord(k, n, 1000, 1000, Circles.from_xyr(np.array(c, float).reshape(-1, 3)))
                        for k, (n, c) in enumerate(circles.items())])


@pytest.mark.parametrize("a,b,dup", [
    ([100, 100, 10], [100.5, 100.5, 11], True),  # 0.7 px apart, radius 10% bigger
    ([100, 100, 10], [101, 100, 12], True),  # exactly 1 px, radius 20% of the larger (12)
    ([100, 100, 10], [101.1, 100, 10], False),  # 1.1 px apart
    ([100, 100, 10], [100, 100, 13], False),  # same centre, radius 30% bigger
    ([0, 0, 5], [0.9, 0.2, 5], True),  # at the image corner
])
def test_coincident_pairs(a, b, dup):
    found = coincident_circles(ds_with({"x.jpg": [a, b, [500, 500, 3]]}))
    assert (len(found) == 1) == dup
    if dup:
        assert found[0]["file_name"] == "x.jpg" and found[0]["ids"] == [0, 1] and found[0]["circles"] == 2


def test_coincident_copies_are_one_group_not_quadratic_pairs():
    # 200 copies of one circle and a near twin, in one image; a lone copy pair in another
    c = [[100, 100, 10]] * 200 + [[100.5, 100, 10], [300, 300, 5]]
    found = coincident_circles(ds_with({"a.jpg": c, "b.jpg": [[7, 7, 2], [7, 7, 2]]}), block=7)
    assert [(g["file_name"], g["circles"]) for g in found] == [("a.jpg", 201), ("b.jpg", 2)]
    assert found[0]["ids"] == list(range(201)) and found[0]["max_distance"] == 0.5
    assert found[1]["max_distance"] == 0.0


def test_coincident_matches_brute_force_and_stays_within_images():
    rng = np.random.default_rng(5)
    circles = {}
    for k in range(30):
        xy = rng.integers(0, 40, (60, 2)) + rng.random((60, 2)) * 0.8  # crowded: many near pairs
        r = rng.uniform(5, 7, 60)
        circles[f"im{k}.jpg"] = np.column_stack([xy, r])
    ds = ds_with(circles)
    fast = {(p["file_name"], tuple(p["ids"])) for p in coincident_circles(ds, block=50)}
    brute = set()
    for name, c in circles.items():
        d = np.hypot(c[:, None, 0] - c[None, :, 0], c[:, None, 1] - c[None, :, 1])
        rr = np.maximum(c[:, None, 2], c[None, :, 2])
        ok = (d <= 1.0) & (np.abs(c[:, None, 2] - c[None, :, 2]) <= 0.2 * rr)
        pairs = np.argwhere(np.triu(ok, 1))
        brute |= {(name, tuple(g)) for g in map(sorted, groups_from_pairs(len(c), pairs))}
    assert fast == brute and len(brute) > 10


def test_grade_mismatches_confusion_and_order():
    ds = AcneDataset([ImageRecord(k, n, 100, 100, Circles(np.full((c, 2), 5.0), np.ones(c)))
                      for k, (n, c) in enumerate([("levle0_1.jpg", 3), ("levle0_2.jpg", 60),
                                                  ("levle1_3.jpg", 25), ("levle1_4.jpg", 10), ("x.jpg", 1)])])
    g = grade_mismatches(ds)
    assert g["graded"] == 4 and g["no_prefix"] == 1 and g["agree"] == 2 and g["mismatched"] == 2
    assert g["off_by_2_or_more"] == 1
    assert [m["file_name"] for m in g["mismatches"]] == ["levle0_2.jpg", "levle1_3.jpg"]
    assert g["confusion"][0] == [1, 0, 0, 1] and g["confusion"][1] == [0, 1, 1, 0]


def test_out_of_bounds_from_issues_and_border_crossing():
    obj = {"images": [{"id": 0, "file_name": "a.jpg", "width": 100, "height": 100}],
           "annotations": [{"id": 0, "image_id": 0, "coordinates": [5000, 5], "radius": 3},
                           {"id": 1, "image_id": 0, "coordinates": [2, 50], "radius": 5},
                           {"id": 2, "image_id": 0, "coordinates": [50, 50], "radius": 5}]}
    ds, issues = parse_dataset(obj, fix=True)
    o = out_of_bounds(ds, issues)
    assert o["invalid"] == 1 and o["invalid_by_image"] == {"a.jpg": 1} and o["invalid_where"] == ["annotations[0].coordinates"]
    assert o["crossing_border"] == 1 and o["crossing_border_images"] == 1


# ---------------------------------------------------------------- photos and the command

def write_set(tmp_path):
    """Four photos: b is a byte copy of a, c a resized re-encode of a, d unrelated."""
    img = tmp_path / "img"
    img.mkdir()
    save(img / "levle0_a.png", scene(7, 300))
    shutil.copy(img / "levle0_a.png", img / "levle0_b.png")
    buf = io.BytesIO()
    Image.fromarray(scene(7, 300)).resize((150, 150)).save(buf, "JPEG", quality=80)
    (img / "levle1_c.png").write_bytes(buf.getvalue())  # JPEG bytes under a .png name: still an image
    save(img / "levle2_d.png", scene(8, 300))
    names = ["levle0_a.png", "levle0_b.png", "levle1_c.png", "levle2_d.png"]
    obj = {"images": [{"id": k, "file_name": n, "width": 600, "height": 600} for k, n in enumerate(names)],
           "annotations": [{"id": 0, "image_id": 0, "coordinates": [10, 10], "radius": 4}]}
    (tmp_path / "a.json").write_text(json.dumps(obj))
    return img, tmp_path / "a.json"


def test_photo_duplicates(tmp_path):
    img, _ = write_set(tmp_path)
    paths = {p.name: p for p in sorted(img.iterdir())}
    d = photo_duplicates(paths, 20)
    assert d["byte_identical"] == [["levle0_a.png", "levle0_b.png"]]
    pairs = {(p["a"], p["b"]) for p in d["near_pairs"]}
    assert pairs == {("levle0_a.png", "levle1_c.png"), ("levle0_b.png", "levle1_c.png")}
    assert d["near_groups"] == [["levle0_a.png", "levle0_b.png", "levle1_c.png"]]


def test_cli_audit_json_and_exit_codes(tmp_path, capsys):
    img, path = write_set(tmp_path)
    assert main(["audit", str(path), "--images", str(img), "--json"]) == 1  # duplicates found
    r = json.loads(capsys.readouterr().out)
    assert r["photos"]["byte_identical"] == [["levle0_a.png", "levle0_b.png"]]
    assert r["problems"] >= 2
    assert main(["audit", str(path)]) == 0  # without photos: nothing wrong with these circles
    out = capsys.readouterr().out
    assert "skipped" in out and "needs --images" in out and "filename grade vs Hayashi" in out


def test_cli_audit_missing_photo_is_an_error(tmp_path, capsys):
    img, path = write_set(tmp_path)
    (img / "levle2_d.png").unlink()
    assert main(["audit", str(path), "--images", str(img)]) == 2
    err = capsys.readouterr().err
    assert "levle2_d.png" in err and "--missing skip" in err and len(err.strip().splitlines()) == 1


def test_real_file_and_640_photos(real_json, acne640, capsys):
    args = ["audit", str(real_json), "--images", str(acne640 / "images"), "--missing", "skip", "--json"]
    assert main(args) == 1  # levle2_130.jpg has 49 circles out of bounds
    r = json.loads(capsys.readouterr().out)
    assert r["out_of_bounds"]["invalid_by_image"] == {"levle2_130.jpg": 49}
    assert r["photos"]["photos"] == 1026 and r["on_disk"]["missing"] == 178
    assert r["grades"]["graded"] == 1204
    assert all(p["bits"] <= 20 for p in r["photos"]["near_pairs"])
