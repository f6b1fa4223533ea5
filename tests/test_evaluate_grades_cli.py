"""`acnekit evaluate --reference-grades / --reference-counts`: reference kinds, inputs, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from acnekit.circles import Circles
from acnekit.cli import main
from acnekit.dataset import AcneDataset, ImageRecord, save_dataset
from test_metrics_grade_eval import write_voc

# image -> (graded lesions, other lesions); filename grades 0, 1, 2, 3, 2
CASES = {"levle0_1.jpg": (2, 10), "levle1_2.jpg": (9, 20), "levle2_3.jpg": (30, 5), "levle3_4.jpg": (60, 0),
         "levle2_5.jpg": (4, 4)}


def _record(i, name, n_graded, n_other):
    n = n_graded + n_other
    rng = np.random.default_rng(i)
    xyr = np.column_stack([rng.uniform(10, 190, n), rng.uniform(10, 190, n), np.full(n, 3.0)])
    extras = [{"graded": True}] * n_graded + [{"graded": False}] * n_other
    return ImageRecord(i, name, 200, 200, Circles.from_xyr(xyr, np.full(n, 0.9)), ann_extra=extras)


@pytest.fixture
def detect_file(tmp_path):
    ims = [_record(i, name, *c) for i, (name, c) in enumerate(CASES.items())]
    path = tmp_path / "detect.json"
    save_dataset(AcneDataset(ims, info={"score_threshold": 0.3}), path)
    return path


def _one_line_error(capsys, args) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


def test_filename_prefix_on_graded_lesions(detect_file, tmp_path, capsys):
    out = tmp_path / "ev.json"
    assert main(["evaluate", str(detect_file), "--reference-grades", "filename-prefix", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for s in ("Grades against filename-prefix (5 images)", "Youden index YI", "quadratic", "true \\ pred",
              "5 from graded lesions"):
        assert s in text
    g = json.loads(out.read_text())["reference_grading"]
    # graded counts 2, 9, 30, 60, 4 -> grades 0, 1, 2, 3, 0 against 0, 1, 2, 3, 2
    assert g["grades"]["accuracy"] == pytest.approx(0.8)
    assert g["grades"]["confusion_matrix"][2] == [1, 0, 1, 0]
    assert [r["pred_count"] for r in g["per_image"]] == [2, 9, 30, 60, 4]


def test_csv_reference_and_voc_counts(detect_file, tmp_path, capsys):
    csv = tmp_path / "ref.csv"
    csv.write_text("file_name,grade\n" + "".join(f"{n},1\n" for n in CASES) + "other.jpg,0\n")
    voc = write_voc(tmp_path / "voc", {n: ["papules"] * (c[0] + 1) for n, c in CASES.items()} | {"x.jpg": ["a"]})
    out = tmp_path / "ev.json"
    assert main(["evaluate", str(detect_file), "--reference-grades", str(csv), "--reference-counts", str(voc),
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "reference images left out (no prediction): 1" in text
    assert "box-reference images left out (no prediction): 1" in text
    r = json.loads(out.read_text())["reference_grading"]
    assert r["grades"]["accuracy"] == pytest.approx(0.2) and r["grades"]["left_out_names"] == ["other.jpg"]
    c = r["counts"]
    assert c["counting"]["mae"] == pytest.approx(1.0) and c["counting"]["mean_error"] == pytest.approx(-1.0)
    assert c["left_out_names"] == ["x.jpg"]
    # --all-gt: the unpredicted reference images are scored as no lesions found
    out2 = tmp_path / "ev2.json"
    assert main(["evaluate", str(detect_file), "--reference-grades", str(csv), "--reference-counts", str(voc),
                 "--all-gt", "--json", str(out2)]) == 0
    r2 = json.loads(out2.read_text())["reference_grading"]
    assert r2["grades"]["evaluated"] == 6 and r2["counts"]["evaluated"] == 6


def test_folder_of_assessments(tmp_path, capsys):
    for stem, grade in (("levle0_1", 0), ("levle1_2", 2), ("levle3_3", 3)):
        d = tmp_path / "assessments" / stem
        d.mkdir(parents=True)
        obj = {"images": [{"id": 0, "file_name": f"{stem}.jpg", "width": 100, "height": 100}], "annotations": [],
               "info": {}, "summary": {"grade": {"method": "reference", "grade": grade, "count": 4 * grade}}}
        (d / "assessment.json").write_text(json.dumps(obj))
    (tmp_path / "assessments" / ".acnekit-assess.x.tmp").mkdir()  # hidden leftovers are skipped
    out = tmp_path / "ev.json"
    assert main(["evaluate", str(tmp_path / "assessments"), "--reference-grades", "filename-prefix",
                 "--json", str(out)]) == 0
    r = json.loads(out.read_text())["reference_grading"]
    assert r["predictions"]["grade_sources"]["summary.grade"] == 3
    assert r["grades"]["accuracy"] == pytest.approx(2 / 3)
    # several assessment files work as well
    files = sorted(str(p) for p in (tmp_path / "assessments").glob("*/assessment.json"))
    assert main(["evaluate", *files, "--reference-grades", "filename-prefix"]) == 0


def test_gt_pred_with_reference_gives_both(detect_file, tmp_path, capsys):
    gt = tmp_path / "gt.json"
    obj = json.loads(detect_file.read_text())
    for a in obj["annotations"]:
        a.pop("score"), a.pop("graded")
    gt.write_text(json.dumps(obj))
    out = tmp_path / "ev.json"
    assert main(["evaluate", str(gt), str(detect_file), "--reference-grades", "filename-prefix",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "AP50 (COCO 101-point)" in text and "Grades against filename-prefix" in text
    r = json.loads(out.read_text())
    assert r["detection"]["ap50"] == 1.0 and r["reference_grading"]["grades"]["images"] == 5


def test_bad_inputs_are_one_line(detect_file, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("file_name,grade\nlevle0_1.jpg,0\nlevle1_2.jpg,moderate\n")
    err = _one_line_error(capsys, ["evaluate", str(detect_file), "--reference-grades", str(bad)])
    assert str(bad) in err and "row 3, column grade" in err and '"moderate"' in err
    short = tmp_path / "short.csv"
    short.write_text("file_name,grade\nlevle0_1.jpg,0\n")
    err = _one_line_error(capsys, ["evaluate", str(detect_file), "--reference-grades", str(short)])
    assert "levle1_2.jpg" in err and "not in the reference" in err and "detect.json" in err
    obj = json.loads(detect_file.read_text())
    obj["images"][0]["file_name"] = "face.jpg"
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(obj))
    err = _one_line_error(capsys, ["evaluate", str(odd), "--reference-grades", "filename-prefix"])
    assert "images[0].file_name" in err and "face.jpg" in err
    err = _one_line_error(capsys, ["evaluate", str(detect_file), "--reference-counts", str(tmp_path / "novoc")])
    assert "novoc" in err
    assert "GT PRED" in _one_line_error(capsys, ["evaluate", str(detect_file)])
    assert "--plots needs a ground truth" in _one_line_error(
        capsys, ["evaluate", str(detect_file), "--reference-grades", "filename-prefix", "--plots", str(tmp_path / "p")])


def test_fix_gt_needs_a_ground_truth(detect_file, capsys):
    err = _one_line_error(capsys, ["evaluate", str(detect_file), "--reference-grades", "filename-prefix", "--fix-gt"])
    assert "--fix-gt needs a ground truth" in err
