"""Photos without full colour (issue 17 item 6): read all the same, one warning line, a JSON note."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from acnekit.cli import main
from acnekit.errors import AcneKitWarning
from acnekit.imageio import colour_note, read_image, read_image_info

sys.path.insert(0, str(Path(__file__).parent))
from _assess_fake import FakeDetector, photo  # noqa: E402


@pytest.mark.parametrize("mode, kind", [
    ("L", "grayscale"),
    ("LA", "grayscale"),
    ("1", "black-and-white"),
    ("P", "palette"),
    ("I;16", "16-bit grayscale"),
    ("RGB", None),  # a colour photo: no note
    ("CMYK", None),
    ("RGBA", None),
])
def test_colour_note_by_mode(tmp_path, mode, kind):
    img = Image.fromarray(photo(64, 48))
    if mode == "I;16":
        img = Image.fromarray((np.asarray(img.convert("L"), np.uint16) * 257))
        assert img.mode == "I;16"
    elif mode != "RGB":
        img = img.convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    img.save(path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rgb, note = read_image_info(path)
        plain = read_image(path)  # the plain reader stays quiet
    assert rgb.shape == (48, 64, 3) and np.array_equal(rgb, plain)
    if kind is None:
        assert note is None and not seen
    else:
        assert note.startswith(kind) and f"mode {mode}" in note
        assert [str(w.message) for w in seen] == [f"{path}: {note}"]
        assert seen[0].category is AcneKitWarning


def test_rgb_file_with_equal_channels_is_grayscale():
    gray = np.repeat(np.asarray(Image.fromarray(photo(64, 48)).convert("L"))[..., None], 3, axis=2)
    assert "three equal channels" in colour_note("RGB", gray)
    assert colour_note("RGB", photo(64, 48)) is None


def test_assess_warns_once_and_notes_it_in_the_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("acnekit.commands.assess.load_detector", lambda path: FakeDetector())
    src = tmp_path / "gray.png"
    Image.fromarray(photo()).convert("L").save(src)
    colour = tmp_path / "colour.png"
    Image.fromarray(photo()).save(colour)
    assert main(["assess", str(src), str(colour), "--out", str(tmp_path / "out")]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and str(src) in err[0] and "grayscale photo (mode L)" in err[0]
    d = json.loads((tmp_path / "out" / "gray" / "assessment.json").read_text())
    assert "grayscale photo (mode L)" in d["summary"]["warnings"][0]
    d = json.loads((tmp_path / "out" / "colour" / "assessment.json").read_text())
    assert "warnings" not in d["summary"]


class _PredictFake(FakeDetector):
    card = {"name": "fake", "min_score": 0.05}

    def predict_many(self, rgbs, score_thr=None):
        return [self.predict(r, score_thr=score_thr) for r in rgbs]


def test_detect_command_warns_once_and_notes_it_per_image(tmp_path, monkeypatch, capsys):
    """`acnekit detect` runs on an engine (DetectJob): the note still reaches stderr and the JSON."""
    class Fake(_PredictFake):
        name, working_scale, score_threshold = "fake", 1.0, 0.5

    monkeypatch.setattr("acnekit.commands.detect.load_detector", lambda path: Fake())
    src = tmp_path / "pal.png"
    Image.fromarray(photo()).convert("P").save(src)
    colour = tmp_path / "colour.png"
    Image.fromarray(photo()).save(colour)
    out = tmp_path / "pred.json"
    assert main(["detect", str(src), str(colour), "--out", str(out), "--no-progress"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and str(src) in err[0] and "palette" in err[0]
    got = {im["file_name"]: im for im in json.loads(out.read_text())["images"]}
    assert "palette" in got["pal.png"]["warnings"][0] and "warnings" not in got["colour.png"]
