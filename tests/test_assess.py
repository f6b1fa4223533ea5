import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from acnekit.assess import (DISPLAY_MAX_SIDE, OUTPUT_NAMES, assess_photo, summarise,
                            write_outputs)
from acnekit.circles import Circles
from acnekit.cli import main
from acnekit.errors import OutputError
from acnekit.scale import ScaleError
from acnekit.severity import severity_score
from acnekit.validate import parse_dataset

from _assess_fake import FakeDetector, photo

DISCS = ((60, 50, 8), (200, 120, 12), (100, 180, 5))


@pytest.fixture
def det():
    return FakeDetector()


@pytest.fixture
def cli_det(monkeypatch):
    d = FakeDetector()
    monkeypatch.setattr("acnekit.commands.assess.load_detector", lambda path: d)
    return d


def save(path: Path, rgb=None, fmt=None, mode=None, **kw) -> Path:
    img = Image.fromarray(photo() if rgb is None else rgb)
    if mode:
        img = img.convert(mode)
    img.save(path, format=fmt, **kw)
    return path


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---------------------------------------------------------------------------- API
def test_assess_synthetic_three_outputs_consistent(tmp_path, det):
    src = save(tmp_path / "face.png")
    a = assess_photo(src, det, px_per_mm=4.0)
    assert a.width == 320 and a.height == 240 and len(a.circles) == 3
    got = sorted(a.circles.xyr.tolist())
    want = sorted([list(map(float, d)) for d in DISCS])
    assert np.allclose(got, want, atol=0.8)
    out = write_outputs(a, a.rgb, tmp_path / "out" / "face")
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_NAMES)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["face"]  # no temp folder left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not the temp folder's private mode

    d = json.loads((out / "assessment.json").read_text())
    ds, issues = parse_dataset(d, path="assessment.json")  # strict: valid Acne04-v2
    assert issues == [] and len(ds) == 1 and ds.images[0].count == 3
    assert d["images"][0] == {"id": 0, "file_name": "face.png", "width": 320, "height": 240}
    assert all(a_["score"] == 0.9 for a_ in d["annotations"])
    # graded: the discs of radius 8 and 12 (the fake head grades r >= 8), not the one of radius 5
    assert [(round(a_["radius"]) >= 8, a_["graded"], a_["graded_score"]) for a_ in d["annotations"]] == [
        (g, g, 0.9 if g else 0.1) for g in (round(a_["radius"]) >= 8 for a_ in d["annotations"])]
    assert sum(a_["graded"] for a_ in d["annotations"]) == 2
    assert d["info"]["graded_model"] == "fake-graded" and d["info"]["graded_threshold"] == 0.5
    s = d["summary"]
    r = np.array([an["radius"] for an in d["annotations"]])
    assert s["count"] == 3
    assert s["total_area_px2"] == pytest.approx(np.sum(np.pi * r**2))
    assert s["total_area_mm2"] == pytest.approx(s["total_area_px2"] / 16)
    assert s["sizes"]["radius_mm"]["max"] == pytest.approx(r.max() / 4)
    assert sum(s["sizes"]["histogram"]["counts"]) == 3 and s["sizes"]["histogram"]["quantity"] == "radius_mm"
    g = s["grade"]
    assert g["method"] == "reference-graded-count" and g["grade"] == 0 and g["name"] == "mild"
    assert g["count"] == 2 and g["band"] == "0-5" and g["bands"] == [5, 20, 50]
    assert len(g["probabilities"]) == 4 and sum(g["probabilities"]) == pytest.approx(1, abs=1e-3)
    assert "62.5%" in g["caveat"] and "2 graded lesions" in g["explanation"]
    assert s["count_band"]["count"] == 3 and s["count_band"]["band"] == "0-5" and "31%" in s["count_band"]["caveat"]
    assert "calibrated_grade" not in s
    p = 100 * s["total_area_px2"] / (320 * 240)
    assert s["severity"]["score"] == pytest.approx(severity_score(3, p))
    ws = s["model"].pop("working_scale")
    assert s["model"] == {"name": "fake-red-discs", "score_threshold": 0.5,
                          "graded": {"name": "fake-graded", "threshold": 0.5}}
    # no face on a synthetic photo: the area rule, with the reason
    assert ws["rule"] == "area" and ws["area"] == 409600 and "no face found" in ws["reason"]
    assert s["face"]["found"] is False and s["regions"] is None
    assert s["scale"]["px_per_mm"] == 4.0 and s["scale"]["source"] == "manual"

    html = (out / "report.html").read_text()
    assert "data:image/jpeg;base64," in html and "face.png" in html and "<svg" in html
    assert "31%" in html and "62.5%" in html and "fake-red-discs" in html and "counted by the grade" in html
    ann = Image.open(out / "annotated.jpg")
    assert ann.size == (320, 240)


def test_no_scale_reports_pixels_only(det):
    a = assess_photo(Image_bytes(photo()), det)
    s = a.summary
    assert s["total_area_mm2"] is None and "radius_mm" not in s["sizes"]
    assert s["scale"]["units"] == "px" and "pixels only" in s["scale"]["note"]
    assert s["sizes"]["histogram"]["quantity"] == "radius_px"
    assert a.file_name == "upload"


def Image_bytes(rgb, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt)
    return buf.getvalue()


def test_bytes_input_named_and_ruler(det):
    a = assess_photo(Image_bytes(photo()), det, ruler="10,10,40,50,5", name="upload.png")
    assert a.file_name == "upload.png" and len(a.circles) == 3
    for odd in ("..", "C:\\x\\face.png"):  # uploads may carry odd names: a bare file name is kept
        b = assess_photo(Image_bytes(photo()), det, name=odd)
        assert parse_dataset(b.to_dict())[1] == [] and b.file_name in ("upload", "face.png")
    assert a.summary["scale"]["px_per_mm"] == pytest.approx(10.0) and a.summary["scale"]["source"] == "ruler"


def test_ruler_outside_photo_is_error(det):
    with pytest.raises(ScaleError, match="outside the 320x240 photo"):
        assess_photo(Image_bytes(photo()), det, ruler="10,10,400,10,5")


def test_summarise_recomputes_after_edit():
    c = Circles.from_xyr([[10, 10, 3], [50, 50, 4]], score=[0.9, 0.8])
    s1 = summarise(c, 100, 100)
    s2 = summarise(Circles.concat([c, Circles.from_xyr([[80, 80, 10]], score=[1.0])]), 100, 100, px_per_mm=2.0)
    assert s1["count"] == 2 and s2["count"] == 3
    assert s2["total_area_px2"] == pytest.approx(math.pi * (9 + 16 + 100))
    assert s2["severity"]["score"] > s1["severity"]["score"]
    assert s1["grade"] is None and s1["count_band"]["count"] == 2  # no graded flags: no reference grade
    empty = summarise(Circles.empty(), 100, 100, bands=(0, 2), graded=[])
    assert empty["count"] == 0 and empty["sizes"]["radius_px"] is None and empty["grade"]["grade"] == 0
    assert empty["sizes"]["histogram"]["counts"] == [] and empty["severity"]["score"] == 0


def test_exif_rotated_photo(tmp_path, det):
    src = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    Image.fromarray(photo(discs=((60, 50, 10),))).save(src, quality=95, exif=exif)
    a = assess_photo(src, det)
    assert (a.width, a.height) == (240, 320)
    assert len(a.circles) == 1
    # stored (x, y) -> upright (h - y, x)
    assert np.allclose(a.circles.xy[0], [240 - 50, 60], atol=1.0)


@pytest.mark.parametrize("mode, fmt, n", [("CMYK", "JPEG", 3), ("L", "PNG", 0), ("RGBA", "PNG", 3),
                                           ("P", "PNG", 3)])
def test_any_mode_becomes_rgb(tmp_path, det, mode, fmt, n):
    src = save(tmp_path / f"m.{fmt.lower()}", fmt=fmt, mode=mode)
    a = assess_photo(src, det)
    assert a.rgb.shape == (240, 320, 3) and a.rgb.dtype == np.uint8
    assert len(a.circles) == n  # grey has no red discs


def test_large_photo_display_copy(tmp_path, det):
    rgb = photo(2600, 400, discs=((2400, 200, 30),))
    a = assess_photo(Image_bytes(rgb), det, name="big.png")
    assert np.allclose(a.circles.xy[0], [2400, 200], atol=1)
    out = write_outputs(a, a.rgb, tmp_path / "big")
    assert max(Image.open(out / "annotated.jpg").size) == DISPLAY_MAX_SIDE
    d = json.loads((out / "assessment.json").read_text())
    assert d["images"][0]["width"] == 2600 and d["annotations"][0]["coordinates"][0] == pytest.approx(2400, abs=1)


def test_write_outputs_refuses_existing_then_force(tmp_path, det):
    a = assess_photo(Image_bytes(photo()), det)
    out = write_outputs(a, a.rgb, tmp_path / "o")
    before = (out / "assessment.json").read_bytes()
    with pytest.raises(OutputError, match="exists"):
        write_outputs(a, a.rgb, out)
    a2 = assess_photo(Image_bytes(photo(discs=((60, 50, 8),))), det)
    write_outputs(a2, a2.rgb, out, force=True)
    assert (out / "assessment.json").read_bytes() != before
    assert json.loads((out / "assessment.json").read_text())["summary"]["count"] == 1
    assert listing(tmp_path) == sorted(["o"] + [f"o/{n}" for n in OUTPUT_NAMES])


def test_untrained_real_detector_plumbing(det):
    from acnekit.detector.infer import Detector
    from acnekit.detector.network import CircleNet

    small = {"rule": "area", "area": 160 * 120, "max_side": 1024, "tile": 640, "overlap": 96}  # fast on CPU
    real = Detector(CircleNet(), {"working_scale": small})
    a = assess_photo(Image_bytes(photo()), real, score_thr=0.99)
    d = a.to_dict()
    assert parse_dataset(d)[1] == []
    assert d["summary"]["model"]["name"] == "untrained" and d["summary"]["model"]["score_threshold"] == 0.99


# ---------------------------------------------------------------------------- CLI: good runs
def test_cli_single_photo(tmp_path, cli_det, capsys):
    src = save(tmp_path / "face.png")
    out = tmp_path / "out"
    assert main(["assess", str(src), "--out", str(out), "--px-per-mm", "5"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{src}: mild (grade 0, reference grade from 2 graded lesions, P ") and "severity" in line
    assert "3 lesions (count band 0-5)" in line
    assert listing(out) == sorted(["face"] + [f"face/{n}" for n in OUTPUT_NAMES])


def test_cli_batch_summary_csv(tmp_path, cli_det, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    save(folder / "a.png")
    save(folder / "b.jpg", rgb=photo(discs=((50, 50, 9),)), quality=95)
    out = tmp_path / "out"
    assert main(["assess", str(folder), "--out", str(out), "--bands", "1,2,3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and "graded lesions" in lines[0]
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["count"] for r in rows] == ["3", "1"] and [r["graded_count"] for r in rows] == ["2", "1"]
    assert [r["grade"] for r in rows] == ["1", "0"] and [r["count_band_grade"] for r in rows] == ["2", "0"]
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "summary.csv"]
    assert cli_det.calls == 2


def test_cli_json(tmp_path, cli_det, capsys):
    src = save(tmp_path / "face.png")
    assert main(["assess", str(src), "--out", str(tmp_path / "o"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["count"] == 3 and data[0]["photo"] == str(src)


# ---------------------------------------------------------------------------- CLI: bad inputs
def bad_photo(tmp_path: Path, kind: str) -> tuple[Path, list[str]]:
    p = tmp_path / "in" / "bad.png"
    p.parent.mkdir()
    extra: list[str] = []
    if kind == "not an image":
        p.write_text("hello, I am text")
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "tiny":
        save(p, rgb=photo(10, 10, discs=()))
    elif kind == "pixel limit":
        save(p, rgb=photo(640, 480, discs=()))
        extra = ["--max-pixels", "100000"]  # the good photo (320x240) is under it
    elif kind == "truncated":
        p.write_bytes(Image_bytes(photo())[:200])
    return p, extra


@pytest.mark.parametrize("kind, message", [
    ("not an image", "not an image"),
    ("empty", "empty file"),
    ("tiny", "10x10 px, smaller than the minimum 32x32"),
    ("pixel limit", "over the pixel limit"),
    ("truncated", "bad.png"),
])
def test_cli_bad_photo_one_line_no_output(tmp_path, cli_det, capsys, kind, message):
    p, extra = bad_photo(tmp_path, kind)
    good = save(tmp_path / "in" / "good.png")
    out = tmp_path / "out"
    assert main(["assess", str(good), str(p), "--out", str(out), "--fail-fast", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not out.exists()  # nothing written, not even for the good photo


def test_cli_existing_output_without_force(tmp_path, cli_det, capsys):
    src = save(tmp_path / "face.png")
    out = tmp_path / "out"
    assert main(["assess", str(src), "--out", str(out)]) == 0
    before = (out / "face" / "assessment.json").read_bytes()
    cli_det.calls = 0
    assert main(["assess", str(src), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert cli_det.calls == 0  # refused before any work
    assert main(["assess", str(src), "--out", str(out), "--force", "--score-thr", "0.95"]) == 0
    d = json.loads((out / "face" / "assessment.json").read_text())
    assert d["summary"]["count"] == 0 and (out / "face" / "assessment.json").read_bytes() != before
    assert sorted(p.name for p in out.iterdir()) == ["face"]


def test_cli_unwritable_output(tmp_path, cli_det, capsys):
    src = save(tmp_path / "face.png")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main(["assess", str(src), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert "cannot create output folder" in err and len(err.strip().splitlines()) == 1
    assert main(["assess", str(src), "--out", str(blocker)]) == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--px-per-mm", "-1"], "--px-per-mm"),
    (["--ruler", "1,2,1,2,5"], "same"),
    (["--score-thr", "1.5"], "--score-thr"),
    (["--bands", "20,5"], "--bands"),
    (["--model", "missing.safetensors"], "model weights not found"),
])
def test_cli_bad_options(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    src = save(tmp_path / "face.png")
    assert main(["assess", str(src), "--out", "o", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_cli_duplicate_stems(tmp_path, cli_det, capsys):
    a = save(tmp_path / "face.png")
    (tmp_path / "x").mkdir()
    b = save(tmp_path / "x" / "face.jpg", quality=95)
    assert main(["assess", str(a), str(b), "--out", str(tmp_path / "o")]) == 2
    assert "share the name" in capsys.readouterr().err


def test_cli_missing_file(tmp_path, cli_det, capsys):
    assert main(["assess", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o")]) == 2
    assert "file not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------- real model
def test_real_model_smoke(tmp_path, fullres):
    from acnekit.detector.infer import DEFAULT_MODEL, Detector

    if not DEFAULT_MODEL.exists():
        pytest.skip(f"shipped model not available yet: {DEFAULT_MODEL} is absent")
    photo_path = sorted(fullres.glob("*.jpg"))[0]
    a = assess_photo(photo_path, Detector.load())
    out = write_outputs(a, a.rgb, tmp_path / photo_path.stem)
    d = json.loads((out / "assessment.json").read_text())
    assert parse_dataset(d)[1] == [] and d["images"][0]["width"] == a.width
    assert d["summary"]["count"] == len(d["annotations"])
