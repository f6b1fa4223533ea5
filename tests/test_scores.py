"""`draw` and `stats` count a prediction file's circles at its own info.score_threshold by
default (issue 17 item 4), with --score-thr and --all-scores, and say which they used."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from acnekit.cli import main
from acnekit.dataset import load_dataset
from acnekit.errors import AcneKitError
from acnekit.scores import apply_scores

PRED = {"info": {"score_threshold": 0.5, "score_floor": 0.05},
        "images": [{"id": 0, "file_name": "a.png", "width": 64, "height": 48}],
        "annotations": [{"id": k, "image_id": 0, "coordinates": [8 + 12 * k, 20], "radius": 4, "class_name": "acne",
                         "score": s, "mine": k} for k, s in enumerate([0.9, 0.6, 0.3, 0.1])]}


@pytest.fixture
def pred(tmp_path):
    p = tmp_path / "pred.json"
    p.write_text(json.dumps(PRED))
    return p


def test_apply_scores_rules(pred):
    ds = load_dataset(pred)
    kept, f = apply_scores(ds)
    assert (f.threshold, f.source, f.kept, f.dropped) == (0.5, "info.score_threshold", 2, 2)
    assert [e["mine"] for e in kept.images[0].ann_extra] == [0, 1]  # extras follow their circles
    assert kept.images[0].ann_ids.tolist() == [0, 1]
    assert apply_scores(ds, 0.2)[1].kept == 3
    assert apply_scores(ds, all_scores=True)[1].kept == 4
    ds.info = {}
    _, f = apply_scores(ds)
    assert f.threshold is None and "records no info.score_threshold" in f.describe()
    with pytest.raises(AcneKitError, match="--score-thr"):
        apply_scores(ds, 1.5)


def test_ground_truth_is_untouched(tmp_path):
    gt = {"images": PRED["images"], "annotations": [{**a, "score": None} for a in PRED["annotations"]]}
    for a in gt["annotations"]:
        del a["score"]
    p = tmp_path / "gt.json"
    p.write_text(json.dumps(gt))
    ds, f = apply_scores(load_dataset(p))
    assert ds.n_lesions == 4 and f.describe() is None


def test_stats_counts_at_the_files_threshold(pred, capsys):
    assert main(["stats", str(pred), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["lesions"] == 4 and s["lesions_valid"] == 2 and s["lesions_below_threshold"] == 2
    assert s["scores"]["threshold"] == 0.5 and s["scores"]["source"] == "info.score_threshold"
    assert main(["stats", str(pred)]) == 0
    out = capsys.readouterr().out
    assert "scores: circles scoring >= 0.5 kept (the file's info.score_threshold): 2 kept, 2 below" in out
    assert "invalid" not in out and "2 scoring below the threshold" in out
    assert main(["stats", str(pred), "--json", "--all-scores"]) == 0
    assert json.loads(capsys.readouterr().out)["lesions_valid"] == 4
    assert main(["stats", str(pred), "--json", "--score-thr", "0.2"]) == 0
    assert json.loads(capsys.readouterr().out)["lesions_valid"] == 3


def test_draw_draws_only_counted_circles(pred, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(photos / "a.png")
    ink = {}
    for opt in ([], ["--all-scores"]):
        out = tmp_path / f"out{len(opt)}"
        assert main(["draw", str(pred), "--images", str(photos), "--out", str(out), "--format", "png", *opt]) == 0
        text = capsys.readouterr().out
        ink[len(opt)] = int((np.asarray(Image.open(out / "a.png")) != 128).any(axis=2).sum())
        if opt:
            assert "all 4 scored circles kept (--all-scores)" in text
        else:
            assert "pred.json: circles scoring >= 0.5 kept (the file's info.score_threshold): 2 kept, 2 below" in text
    assert 0 < ink[0] < ink[1]
