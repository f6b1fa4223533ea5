"""Format detection and the `acnekit convert` command: round trips, refusals, atomic outputs."""

from __future__ import annotations

import json

import pytest

from acnekit.cli import main
from acnekit.errors import DatasetError
from acnekit.formats import detect_format

SMALL = {"images": [{"id": 0, "file_name": "a.jpg", "width": 100, "height": 80},
                    {"id": 1, "file_name": "b.jpg", "width": 60, "height": 60}],
         "annotations": [{"id": 0, "image_id": 0, "coordinates": [10, 20], "radius": 5, "class_name": "acne"},
                         {"id": 1, "image_id": 0, "coordinates": [50.5, 40], "radius": 3, "class_name": "acne"}],
         "info": {"v": 2}}


@pytest.fixture
def small(tmp_path):
    p = tmp_path / "small.json"
    p.write_text(json.dumps(SMALL))
    return p


def test_detect(tmp_path, small):
    assert detect_format(small) == "acne04v2"
    coco = tmp_path / "c.json"
    coco.write_text(json.dumps({"images": [], "annotations": [{"bbox": [1, 1, 2, 2]}]}))
    assert detect_format(coco) == "coco"
    (tmp_path / "t.csv").write_text("x")
    assert detect_format(tmp_path / "t.csv") == "csv"
    # by content, whatever the suffix
    (tmp_path / "j.dat").write_bytes(coco.read_bytes())
    assert detect_format(tmp_path / "j.dat") == "coco"
    (tmp_path / "rows.txt").write_text("file_name,width,height,x,y,radius\n")
    assert detect_format(tmp_path / "rows.txt") == "csv"
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01")
    with pytest.raises(DatasetError, match="cannot tell the format"):
        detect_format(tmp_path / "junk.bin")
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.xml").write_text("<annotation/>")
    assert detect_format(tmp_path / "v") == "voc"
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "classes.txt").write_text("acne\n")
    assert detect_format(tmp_path / "y") == "yolo"
    (tmp_path / "e").mkdir()
    with pytest.raises(DatasetError, match="cannot tell the format of this folder"):
        detect_format(tmp_path / "e")
    other = tmp_path / "o.json"
    other.write_text(json.dumps({"annotations": [{"points": []}]}))
    with pytest.raises(DatasetError, match="neither 'coordinates'"):
        detect_format(other)


@pytest.mark.parametrize("fmt", ["coco", "csv", "voc", "yolo"])
def test_convert_round_trip_cli(tmp_path, small, fmt, capsys):
    mid = tmp_path / {"coco": "mid.json", "csv": "mid.csv"}.get(fmt, fmt)
    assert main(["convert", str(small), "--to", fmt, "--out", str(mid)]) == 0
    extra = ["--reference", str(small)] if fmt == "yolo" else []
    back = tmp_path / "back.json"
    assert main(["convert", str(mid), "--to", "acne04v2", "--out", str(back), *extra]) == 0
    got = json.loads(back.read_text())
    assert [(i["file_name"], i["width"], i["height"]) for i in got["images"]] == [
        ("a.jpg", 100, 80), ("b.jpg", 60, 60)]
    xyr = [(a["coordinates"], a["radius"], a["class_name"]) for a in got["annotations"]]
    assert xyr == [([10, 20], 5, "acne"), ([50.5, 40], 3, "acne")]
    if fmt in ("coco", "csv"):
        assert [a["id"] for a in got["annotations"]] == [0, 1]


def test_convert_refuses_and_keeps_outputs_atomic(tmp_path, small, capsys):
    out = tmp_path / "v"
    assert main(["convert", str(small), "--to", "voc", "--out", str(out)]) == 0
    before = sorted(p.name for p in out.iterdir())
    # exists without --force
    assert main(["convert", str(small), "--to", "voc", "--out", str(out)]) == 2
    assert "output exists" in capsys.readouterr().err
    # over the input itself, even with --force
    assert main(["convert", str(out), "--to", "voc", "--out", str(out), "--force"]) == 2
    assert "refusing to write over or inside the input" in capsys.readouterr().err
    assert main(["convert", str(small), "--to", "acne04v2", "--out", str(small), "--force"]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    # a failed conversion leaves the old output as it was and no temporary folder behind
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**SMALL, "annotations": [{**SMALL["annotations"][0], "radius": -1}]}))
    assert main(["convert", str(bad), "--to", "voc", "--out", str(out), "--force"]) == 2
    assert "annotations[0].radius" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "small.json", "v"]
    # --force replaces the folder
    assert main(["convert", str(small), "--to", "voc", "--out", str(out), "--force"]) == 0


def test_outside_circles_need_a_choice(tmp_path, capsys):
    src = tmp_path / "odd.json"
    odd = {**SMALL, "annotations": SMALL["annotations"] + [
        {"id": 2, "image_id": 1, "coordinates": [6000, 10], "radius": 4, "class_name": "acne"}]}
    src.write_text(json.dumps(odd))
    assert main(["convert", str(src), "--to", "coco", "--out", str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err
    assert "annotations[2].coordinates" in err and "--keep-outside" in err and "--fix" in err
    assert main(["convert", str(src), "--to", "coco", "--out", str(tmp_path / "c.json"), "--keep-outside"]) == 0
    assert len(json.loads((tmp_path / "c.json").read_text())["annotations"]) == 3
    assert main(["convert", str(src), "--to", "csv", "--out", str(tmp_path / "f.csv"), "--fix"]) == 0
    assert "1 repairs" in capsys.readouterr().out
    assert len((tmp_path / "f.csv").read_text().splitlines()) == 1 + 2 + 1  # header, 2 lesions, empty b.jpg


def test_real_file_to_coco_keeps_all(real_json, tmp_path, capsys):
    out = tmp_path / "coco.json"
    assert main(["convert", str(real_json), "--to", "coco", "--out", str(out), "--keep-outside"]) == 0
    assert "kept 49 circles" in capsys.readouterr().out
    assert len(json.loads(out.read_text())["annotations"]) == 32443
    back = tmp_path / "back.json"
    assert main(["convert", str(out), "--to", "acne04v2", "--out", str(back), "--keep-outside"]) == 0
    assert json.loads(back.read_text()) == json.loads(real_json.read_text())
