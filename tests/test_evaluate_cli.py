"""`acnekit evaluate`: table, --json, --plots, and one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from acnekit.circles import Circles
from acnekit.cli import main
from acnekit.dataset import AcneDataset, ImageRecord, save_dataset


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    gts, preds = [], []
    for i in range(6):
        n = 4 + 5 * i
        xyr = np.column_stack([rng.uniform(20, 380, n), rng.uniform(20, 280, n), rng.uniform(4, 12, n)])
        p = xyr[: n - 1] + np.column_stack([rng.normal(0, 1, (n - 1, 2)), np.zeros(n - 1)])
        gts.append(ImageRecord(i, f"levle{i % 4}_{i}.jpg", 400, 300, Circles.from_xyr(xyr)))
        preds.append(ImageRecord(i, f"levle{i % 4}_{i}.jpg", 400, 300, Circles.from_xyr(p, rng.random(n - 1))))
    save_dataset(AcneDataset(gts), tmp_path / "gt.json")
    save_dataset(AcneDataset(preds, info={"model": "test"}), tmp_path / "pred.json")
    return tmp_path / "gt.json", tmp_path / "pred.json"


def test_table(files, capsys):
    gt, pred = files
    assert main(["evaluate", str(gt), str(pred)]) == 0
    out = capsys.readouterr().out
    for text in ("AP50 (COCO 101-point)", "AP@[0.50:0.95]", "score threshold (best F1)", "RMSE", "MSE",
                 "Youden index", "quadratic", "true \\ pred"):
        assert text in out


def test_json_and_plots(files, tmp_path, capsys):
    gt, pred = files
    out_json, plots = tmp_path / "ev.json", tmp_path / "plots"
    assert main(["evaluate", str(gt), str(pred), "--json", str(out_json), "--plots", str(plots),
                 "--score-thr", "0.3", "--px-per-mm", "8", "--match", "centre"]) == 0
    r = json.loads(out_json.read_text())
    assert set(r) >= {"detection", "counting", "grading", "settings", "images", "per_image"}
    assert r["settings"] == {"match": "centre", "iou": None, "score_threshold": 0.3,
                             "score_threshold_source": "given", "score_threshold_tuned_on_evaluated_set": False,
                             "all_gt": False, "px_per_mm": 8.0, "bands": [5, 20, 50]}
    assert r["detection"]["sizes"]["radius_mae_mm"] is not None
    for name in ("pr_curve.png", "count_scatter.png", "confusion_matrix.png"):
        data = (plots / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # outputs exist now: refused without --force (nothing rewritten), accepted with it
    before = out_json.read_bytes()
    assert main(["evaluate", str(gt), str(pred), "--json", str(out_json)]) == 2
    assert out_json.read_bytes() == before
    assert main(["evaluate", str(gt), str(pred), "--plots", str(plots)]) == 2
    assert main(["evaluate", str(gt), str(pred), "--json", str(out_json), "--plots", str(plots), "--force"]) == 0


def _one_line_error(capsys, args) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


@pytest.mark.parametrize("extra, text", [
    (["--iou", "1.5"], "--iou must be <= 1"),
    (["--iou", "abc"], "--iou must be a number"),
    (["--px-per-mm", "0"], "--px-per-mm must be > 0"),
    (["--score-thr", "nan"], "--score-thr must be finite"),
    (["--bands", "5,2"], "--bands"),
])
def test_bad_options(files, capsys, extra, text):
    gt, pred = files
    assert text in _one_line_error(capsys, ["evaluate", str(gt), str(pred), *extra])


def test_bad_files(files, tmp_path, capsys):
    gt, pred = files
    assert "file not found" in _one_line_error(capsys, ["evaluate", str(tmp_path / "nope.json"), str(pred)])
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert "bad.json" in _one_line_error(capsys, ["evaluate", str(gt), str(bad)])
    # a prediction for an image the ground truth lacks
    obj = json.loads(pred.read_text())
    obj["images"][0]["file_name"] = "other.jpg"
    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps(obj))
    err = _one_line_error(capsys, ["evaluate", str(gt), str(stranger)])
    assert "images[0].file_name" in err and "other.jpg" in err
    # the output may not overwrite an input
    assert "input" in _one_line_error(capsys, ["evaluate", str(gt), str(pred), "--json", str(pred), "--force"])


def test_fix_gt(files, tmp_path, capsys):
    gt, pred = files
    obj = json.loads(gt.read_text())
    obj["annotations"][0]["coordinates"] = [98018, 304639]  # like the real file's defect
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(obj))
    err = _one_line_error(capsys, ["evaluate", str(broken), str(pred)])
    assert "validate" in err and "--fix" in err
    assert main(["evaluate", str(broken), str(pred), "--fix-gt"]) == 0
    assert "repaired in memory: 1 problems (annotation.outside: 1)" in capsys.readouterr().err


def test_subset_and_tuned_threshold_warning(files, tmp_path, capsys):
    gt, pred = files
    obj = json.loads(pred.read_text())
    obj["images"] = obj["images"][:2]
    obj["annotations"] = [a for a in obj["annotations"] if a["image_id"] in (0, 1)]
    two = tmp_path / "two.json"
    two.write_text(json.dumps(obj))
    out_json = tmp_path / "two_ev.json"
    assert main(["evaluate", str(gt), str(two), "--json", str(out_json)]) == 0
    cap = capsys.readouterr()
    assert "left out (no prediction entry): 4" in cap.out
    # no info.score_threshold: the best-F1 threshold is tuned on these images, said loudly
    assert "warning:" in cap.err and "tuned on the evaluated images" in cap.err
    assert "WARNING:" in cap.out
    r = json.loads(out_json.read_text())
    assert r["images"]["left_out"] == 4 and r["images"]["evaluated"] == 2
    assert r["settings"]["score_threshold_tuned_on_evaluated_set"] is True and r["warnings"]
    assert main(["evaluate", str(gt), str(two), "--all-gt", "--score-thr", "0.5"]) == 0
    cap = capsys.readouterr()
    assert "no prediction entry (all lesions missed): 4" in cap.out and "warning" not in cap.err
