"""Overlays on synthetic images: circle pixels, line width rule, scale bar length, rescaling,
legend, atomic outputs that never overwrite inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from acnekit.circles import Circles
from acnekit.cli import main
from acnekit.dataset import ImageRecord
from acnekit.draw import (BAR, PRIMARY, SECONDARY, contact_sheet, draw_circles, draw_scale_bar, line_width,
                          overlay, scale_bar_geometry)

GRAY = (128, 128, 128)


def _gray(h, w):
    return np.full((h, w, 3), GRAY, dtype=np.uint8)


def _is(img, color):
    return np.all(img == np.array(color, dtype=np.uint8), axis=-1)


def test_circle_pixels_on_the_circle_only():
    img = draw_circles(_gray(200, 300), Circles.from_xyr([[150, 100, 40]]))
    hit = _is(img, PRIMARY)
    ys, xs = np.nonzero(hit)
    d = np.hypot(xs - 150, ys - 100)
    assert hit.sum() > 200
    assert d.min() >= 40 - 2 and d.max() <= 40 + 1.5  # an outline of width 1 on radius 40
    assert not hit[100, 150] and hit[100, 190] and hit[60, 150]
    assert _is(img, GRAY).sum() == 200 * 300 - hit.sum()


@pytest.mark.parametrize("h, w", [(200, 300), (1200, 999), (1000, 2500), (3456, 3112)])
def test_line_width_rule(h, w):
    lw = line_width(h, w)
    assert lw == 1 + max(h, w) // 1000
    r = 60
    img = draw_circles(_gray(h, w), Circles.from_xyr([[w / 2, h / 2, r]]))
    row = _is(img, PRIMARY)[int(h / 2)]
    right = np.nonzero(row[int(w / 2):])[0]
    assert len(right) == lw  # the outline crossed once on the right, lw pixels thick
    assert right.max() == r  # drawn inwards from the radius


@pytest.mark.parametrize("px_per_mm", [7.0, 20.0, 33.4, 120.0])
def test_scale_bar_length(px_per_mm):
    h, w = 600, 800
    img = draw_scale_bar(_gray(h, w), px_per_mm)
    bar = _is(img, BAR)
    x0, y0, length, thick = scale_bar_geometry(h, w, px_per_mm)
    assert length == round(px_per_mm)
    row = bar[y0 + thick // 2]
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]]))))[::2]
    assert runs.max() == round(px_per_mm)
    assert bar[y0: y0 + thick, x0: x0 + length].all()
    assert bar[: y0 - 1].any()  # the "1 mm" label above the bar
    with pytest.raises(ValueError, match="does not fit"):
        draw_scale_bar(_gray(100, 100), 500)


def test_overlay_rescales_to_the_photo():
    rec = ImageRecord(0, "a.jpg", 1000, 2000, Circles.from_xyr([[500, 1000, 200]]))
    img = overlay(_gray(200, 100), rec)  # photo 10x smaller than recorded
    ys, xs = np.nonzero(_is(img, PRIMARY))
    # centre (500, 1000) -> (50, 100); radius 200 -> 20
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (30, 70, 80, 120)


def test_overlay_compare_boxes_and_legend():
    rec = ImageRecord(0, "a.jpg", 400, 300, Circles.from_xyr([[100, 100, 20]]))
    cmp = ImageRecord(0, "a.jpg", 400, 300, Circles.from_xyr([[300, 200, 15]]),
                      ann_extra=[{"box": [280, 190, 320, 210]}])
    img = overlay(_gray(300, 400), rec, compare=cmp, labels=("gt", "voc"))
    sec = _is(img, SECONDARY)
    assert sec[190, 280:321].all() and sec[210, 280:321].all()  # the box edges, not a circle
    assert not sec[200, 300]
    assert sec[:40, :80].any() and _is(img, PRIMARY)[:40, :80].any()  # legend rows in both colours
    plain = overlay(_gray(300, 400), rec)
    assert not _is(plain, SECONDARY).any()


def test_contact_sheet_shape():
    sheet = contact_sheet([(_gray(100, 50), "a"), (_gray(40, 80), "b"), (_gray(10, 10), "c")], cell=64)
    assert sheet.shape[1] == 2 * 64 and sheet.shape[0] > 2 * 64


# ---------------------------------------------------------------------------- CLI
@pytest.fixture
def scene(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(_gray(120, 160)).save(photos / "a.png")
    Image.fromarray(_gray(90, 90)).save(photos / "b.png")
    ann = {"images": [{"id": 0, "file_name": "a.png", "width": 320, "height": 240},
                      {"id": 1, "file_name": "b.png", "width": 90, "height": 90},
                      {"id": 2, "file_name": "gone.png", "width": 90, "height": 90}],
           "annotations": [{"id": 0, "image_id": 0, "coordinates": [100, 100], "radius": 20, "score": 0.9},
                           {"id": 1, "image_id": 1, "coordinates": [45, 45], "radius": 10, "score": 0.4}]}
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    other = tmp_path / "other.csv"
    other.write_text("file_name,width,height,x,y,radius\na.png,160,120,20,20,8\n")
    return tmp_path


def test_cli_draw_compare_and_scale(scene, capsys):
    out = scene / "out"
    args = ["draw", str(scene / "ann.json"), "--images", str(scene / "photos"), "--out", str(out),
            "--compare", str(scene / "other.csv"), "--px-per-mm", "40", "--scores", "--format", "png"]
    assert main(args) == 0
    assert "1 annotated images have no photo" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    a = np.asarray(Image.open(out / "a.png"))
    assert a.shape == (120, 160, 3)
    assert _is(a, PRIMARY)[50, 60] or _is(a, PRIMARY)[50, 59]  # (100,100,r20) halved: right edge at x=60
    assert _is(a, SECONDARY).any() and _is(a, BAR).any()
    # no overwrite without --force, and nothing changes
    before = (out / "a.png").read_bytes()
    assert main(args) == 2
    assert "output exists" in capsys.readouterr().err
    assert (out / "a.png").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_cli_draw_never_overwrites_photos(scene, capsys):
    photos = scene / "photos"
    before = (photos / "a.png").read_bytes()
    args = ["draw", str(scene / "ann.json"), "--images", str(photos), "--out", str(photos), "--format", "png",
            "--force"]
    assert main(args) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert (photos / "a.png").read_bytes() == before


def test_cli_draw_grid_and_errors(scene, capsys):
    out = scene / "sheet"
    assert main(["draw", str(scene / "ann.json"), "--images", str(scene / "photos"), "--out", str(out),
                 "--grid", "--cell", "64"]) == 0
    assert [p.name for p in out.iterdir()] == ["contact_sheet.jpg"]
    # a scale bar that cannot fit: error, and no half-made output folder
    bad = scene / "bad"
    assert main(["draw", str(scene / "ann.json"), "--images", str(scene / "photos"), "--out", str(bad),
                 "--px-per-mm", "5000"]) == 2
    assert "does not fit" in capsys.readouterr().err and not bad.exists()
    assert main(["draw", str(scene / "ann.json"), "--images", str(scene / "photos"), "--out", str(bad),
                 "--only", "nope.png"]) == 2
    assert "nope.png" in capsys.readouterr().err


def test_real_640_overlay_lands_on_voc_boxes(real_json, acne640, tmp_path):
    """On the stretched 640 copies, rescaled Acne04-v2 circles fall inside the other team's
    VOC boxes far more often than chance."""
    from acnekit.formats import read_dataset

    ds, _ = read_dataset(real_json, keep_outside=True)
    voc, _ = read_dataset(acne640 / "voc")
    vb = voc.by_name()
    inside = total = 0
    for im in ds.images[:200]:
        v = vb.get(im.file_name)
        if v is None or not v.count:
            continue
        c = im.circles.scaled(640 / im.width, 640 / im.height)
        boxes = np.array([e["box"] for e in v.ann_extra])
        x, y = c.xy[:, :1], c.xy[:, 1:]
        hit = (x >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y >= boxes[:, 1]) & (y <= boxes[:, 3])
        inside += int(hit.any(axis=1).sum())
        total += len(c)
    box_area = sum(float(np.prod(np.array([e["box"] for e in v.ann_extra])[:, 2:]
                                 - np.array([e["box"] for e in v.ann_extra])[:, :2], axis=1).sum())
                   for v in voc.images if v.count) / (640 * 640 * len(voc))
    assert total > 1000
    assert inside / total > 5 * box_area  # chance level would be about the covered fraction
