"""CSV cells that a spreadsheet would run as formulas are escaped, reversibly (issue 17 item 9)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from PIL import Image

from acnekit.cli import main
from acnekit.csvsafe import csv_text, escape_cell, unescape_cell


@pytest.mark.parametrize("cell, written", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1+2", "'+1+2"),
    ("-cmd", "'-cmd"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("'=1", "''=1"),  # already apostrophed: escaped again, so reading gives it back exactly
    ("-1.5", "-1.5"),  # numbers stay numbers
    ("+3", "+3"),
    ("a=b", "a=b"),
    ("'plain", "'plain"),
    ("", ""),
])
def test_escape_round_trip(cell, written):
    assert escape_cell(cell) == written
    assert unescape_cell(written) == cell
    assert list(csv.reader(io.StringIO(csv_text([[cell, 3, -2.5]]), newline="")))[0] == [written, "3", "-2.5"]


def test_dataset_csv_escapes_and_reads_back(tmp_path):
    src = tmp_path / "a.json"
    src.write_text(json.dumps({"images": [{"id": 0, "file_name": "=cmd.jpg", "width": 10, "height": 10}],
                               "annotations": [{"id": 0, "image_id": 0, "coordinates": [5, 5], "radius": 2,
                                                "class_name": "@acne"}]}))
    assert main(["convert", str(src), "--to", "csv", "--out", str(tmp_path / "a.csv")]) == 0
    text = (tmp_path / "a.csv").read_text()
    assert "'=cmd.jpg" in text and "'@acne" in text
    assert main(["convert", str(tmp_path / "a.csv"), "--to", "acne04v2", "--out", str(tmp_path / "b.json")]) == 0
    back = json.loads((tmp_path / "b.json").read_text())
    assert back["images"][0]["file_name"] == "=cmd.jpg" and back["annotations"][0]["class_name"] == "@acne"


def test_assess_summary_csv_is_formula_safe(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _assess_fake import FakeDetector, photo

    monkeypatch.setattr("acnekit.commands.assess.load_detector", lambda path: FakeDetector())
    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("=HYPERLINK(1).png", "@x.png"):
        Image.fromarray(photo()).save(photos / name)
    out = tmp_path / "out"
    assert main(["assess", str(photos), "--out", str(out)]) == 0
    rows = list(csv.reader((out / "summary.csv").open()))
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:2].isdigit())]
