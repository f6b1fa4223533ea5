"""`detect` JSON carries each lesion's graded flag and graded score, and the graded head in
``info``; graded lesions are among the counted ones (score at the operating threshold)."""

import json

import numpy as np
from PIL import Image

from acnekit.cli import main

from _assess_fake import FakeDetector, photo


def test_detect_writes_graded_fields(tmp_path, monkeypatch):
    monkeypatch.setattr("acnekit.commands.detect.load_detector", lambda path: FakeDetector())
    src = tmp_path / "face.png"
    Image.fromarray(photo()).save(src)
    out = tmp_path / "pred.json"
    assert main(["detect", str(src), "--out", str(out), "--no-progress"]) == 0
    d = json.loads(out.read_text())
    anns = d["annotations"]
    assert len(anns) == 3
    assert [a["graded"] for a in anns] == [a["radius"] >= 7.5 for a in anns]  # the fake grades r >= 8
    assert [a["graded_score"] for a in anns] == [0.9 if a["radius"] >= 7.5 else 0.1 for a in anns]
    assert d["info"]["graded_threshold"] == 0.5 and d["info"]["graded_model"] == "fake-graded"


def test_detect_score_thr_keeps_the_graded_flags_of_counted_lesions(tmp_path, monkeypatch):
    det = FakeDetector()
    monkeypatch.setattr("acnekit.commands.detect.load_detector", lambda path: det)
    src = tmp_path / "face.png"
    Image.fromarray(photo()).save(src)
    out = tmp_path / "pred.json"
    # --score-thr above the fake's 0.9 scores keeps nothing; at 0.9 all are counted and flags follow the head
    assert main(["detect", str(src), "--out", str(out), "--no-progress", "--score-thr", "0.9"]) == 0
    anns = json.loads(out.read_text())["annotations"]
    assert np.sum([a["graded"] for a in anns]) == 2
