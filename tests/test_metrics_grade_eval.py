"""Grade evaluation: hand-made grade agreement, reference grades / counts, predicted grades."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import DatasetError
from acnekit.metrics.grade_eval import evaluate_grades
from acnekit.metrics.grading import grade_agreement
from acnekit.metrics.predicted import PredictedGrade, all_predicted_grades, predicted_grades
from acnekit.metrics.references import grades_from_filenames, load_box_counts, load_grade_csv


# ---------------------------------------------------------------------------- grade agreement
def test_grade_agreement_hand_made():
    # true  0 0 1 1 2 2 3 3
    # pred  0 1 1 1 2 3 3 2
    r = grade_agreement([0, 0, 1, 1, 2, 2, 3, 3], [0, 1, 1, 1, 2, 3, 3, 2], 4, ["a", "b", "c", "d"])
    assert r["confusion_matrix"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]
    assert r["accuracy"] == pytest.approx(5 / 8)
    # precision per grade 1, 2/3, 1/2, 1/2; SE 1/2, 1, 1/2, 1/2; SP 6/6, 5/6, 5/6, 5/6
    assert r["precision_macro"] == pytest.approx(2 / 3)
    assert r["sensitivity_macro"] == pytest.approx(0.625)
    assert r["specificity_macro"] == pytest.approx(0.875)
    assert r["youden_index"] == pytest.approx(0.5)
    assert [p["youden_index"] for p in r["per_grade"]] == pytest.approx([0.5, 5 / 6, 1 / 3, 1 / 3])
    # kappa: po 5/8, pe 16/64 -> 0.5; quadratic 1 - (1/3)/2; linear 1 - 1/(9.5/3)
    assert r["kappa"] == pytest.approx(0.5)
    assert r["kappa_quadratic"] == pytest.approx(5 / 6)
    assert r["kappa_linear"] == pytest.approx(13 / 19)
    assert [p["label"] for p in r["per_grade"]] == ["a", "b", "c", "d"] and r["labels"] == ["a", "b", "c", "d"]
    assert [p["support"] for p in r["per_grade"]] == [2, 2, 2, 2]
    assert [p["predicted"] for p in r["per_grade"]] == [1, 3, 2, 2]


def test_grade_agreement_wrong_labels():
    with pytest.raises(ValueError, match="labels must have 4 entries"):
        grade_agreement([0], [0], 4, ["a"])


# ---------------------------------------------------------------------------- references
def test_filename_prefix_grades():
    names = [("levle2_5.jpg", "p.json", "images[0].file_name"), ("levle0_1.jpg", "p.json", "images[1].file_name")]
    assert grades_from_filenames(names) == {"levle2_5.jpg": 2, "levle0_1.jpg": 0}
    with pytest.raises(DatasetError, match=r"p.json: images\[3\].file_name: .*levle.*\"face.jpg\""):
        grades_from_filenames([("face.jpg", "p.json", "images[3].file_name")])
    with pytest.raises(DatasetError, match="grade must be an integer 0-3"):
        grades_from_filenames([("levle7_1.jpg", "p.json", "images[0].file_name")])


def test_grade_csv(tmp_path):
    f = tmp_path / "ref.csv"
    f.write_text("\ufefffile_name,grade,note\na.jpg,0,x\n\nb.jpg, 3 ,y\n")
    assert load_grade_csv(f) == {"a.jpg": 0, "b.jpg": 3}


@pytest.mark.parametrize("text, where, value", [
    ("file_name,grade\na.jpg,0\nb.jpg,severe\n", "row 3, column grade", '"severe"'),  # not an integer
    ("file_name,grade\na.jpg,4\n", "row 2, column grade", '"4"'),  # out of range
    ("file_name,grade\na.jpg,-1\n", "row 2, column grade", '"-1"'),
    ("file_name,grade\na.jpg,1\na.jpg,2\n", "row 3, column file_name", "a.jpg"),  # named twice
    ("file_name,grade\na.jpg,1,extra\n", "row 2", "extra"),  # too many fields
    ("name,grade\na.jpg,1\n", "row 1", "name"),  # header
    ("file_name,grade\n,1\n", "row 2, column file_name", "empty"),
])
def test_bad_grade_csv_names_file_row_and_value(tmp_path, text, where, value):
    f = tmp_path / "ref.csv"
    f.write_text(text)
    with pytest.raises(DatasetError) as e:
        load_grade_csv(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}: {where}: ") and value in msg and "\n" not in msg


def test_missing_and_empty_csv(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        load_grade_csv(tmp_path / "nope.csv")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DatasetError, match="empty file"):
        load_grade_csv(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("file_name,grade\n")
    with pytest.raises(DatasetError, match="no rows"):
        load_grade_csv(tmp_path / "h.csv")


def voc_xml(name: str, classes: list[str]) -> str:
    objs = "".join(f"<object><name>{c}</name><bndbox><xmin>{10 + 20 * k}</xmin><ymin>10</ymin>"
                   f"<xmax>{20 + 20 * k}</xmax><ymax>22</ymax></bndbox></object>" for k, c in enumerate(classes))
    return (f"<annotation><filename>{name}</filename><size><width>640</width><height>640</height>"
            f"<depth>3</depth></size>{objs}</annotation>")


def write_voc(folder, boxes: dict[str, list[str]]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, classes in boxes.items():
        (folder / (name.rsplit(".", 1)[0] + ".xml")).write_text(voc_xml(name, classes))
    return folder


def test_box_counts_treat_every_class_as_one(tmp_path):
    d = write_voc(tmp_path / "voc", {"levle0_1.jpg": ["whitehead and blackhead"] * 3,
                                     "levle3_2.jpg": ["nodules and cysts", "papules"], "levle1_3.jpg": []})
    assert load_box_counts(d) == {"levle0_1.jpg": 3, "levle1_3.jpg": 0, "levle3_2.jpg": 2}


# ---------------------------------------------------------------------------- predicted grades
def _rec(i, name, n, score=None, extras=None):
    xyr = np.column_stack([np.full(n, 50.0), np.full(n, 50.0), np.full(n, 3.0)])
    return ImageRecord(i, name, 200, 200, Circles.from_xyr(xyr, None if score is None else np.asarray(score, float)),
                       ann_extra=extras)


def test_graded_flag_counts_only_graded_in_skin_not_removed():
    e = ([{"graded": True}] * 7 + [{"graded": True, "in_skin": False}, {"graded": True, "removed": True}]
         + [{"graded": False}] * 30)
    ds = AcneDataset([_rec(0, "a.jpg", len(e), np.full(len(e), 0.9), e), _rec(1, "b.jpg", 0)], path="d.json")
    preds, notes = predicted_grades(ds)
    assert [(p.count, p.grade, p.source) for p in preds] == [(7, 1, "graded lesions"), (0, 0, "graded lesions")]
    assert notes == []


def test_all_lesion_fallback_uses_the_threshold_and_says_so():
    ds = AcneDataset([_rec(0, "a.jpg", 8, [0.9] * 6 + [0.1] * 2, [{}] * 7 + [{"in_skin": False}])],
                     info={"score_threshold": 0.5}, path="d.json")
    preds, notes = predicted_grades(ds)
    assert (preds[0].count, preds[0].grade, preds[0].source) == (6, 1, "all lesions")
    assert len(notes) == 1 and "no lesion carries 'graded'" in notes[0] and "score >= 0.5" in notes[0]
    assert predicted_grades(ds, score_thr=0.05)[0][0].count == 7  # the given threshold wins
    ds.info = {}
    preds, notes = predicted_grades(ds)
    assert preds[0].count == 7 and "every circle" in notes[0]


def _assessment(name, grade, count=None, path="x/assessment.json"):
    g = {"method": "reference", "grade": grade}
    if count is not None:
        g["count"] = count
    return AcneDataset([_rec(0, name, 3, [0.9] * 3)], extra={"summary": {"grade": g}}, path=path)


def test_assessment_summary_grade():
    preds, _ = predicted_grades(_assessment("levle2_1.jpg", 2, 30))
    assert (preds[0].grade, preds[0].count, preds[0].source) == (2, 30, "summary.grade")
    assert predicted_grades(_assessment("levle2_1.jpg", 1))[0][0].count == 3  # no count: the lesions
    for bad in ("severe", 4, True, 1.0):
        with pytest.raises(DatasetError, match=r"summary.grade.grade: must be an integer 0-3"):
            predicted_grades(_assessment("a.jpg", bad))


def test_bad_graded_flag_and_duplicate_images():
    ds = AcneDataset([_rec(0, "a.jpg", 1, [0.9], [{"graded": "yes"}])], path="d.json")
    with pytest.raises(DatasetError, match=r"d.json: images\[0\] annotation id 0.graded: must be true or false"):
        predicted_grades(ds)
    with pytest.raises(DatasetError, match="also predicted in a/assessment.json"):
        all_predicted_grades([_assessment("a.jpg", 1, path="a/assessment.json"),
                              _assessment("a.jpg", 2, path="b/assessment.json")])


# ---------------------------------------------------------------------------- evaluate_grades
def _p(name, grade, count):
    return PredictedGrade(name, grade, count, "graded lesions", "pred.json", f"images[{name}]")


def test_graded_counts_against_boxes_hand_made():
    preds = [_p("a.jpg", 0, 3), _p("b.jpg", 1, 10), _p("c.jpg", 2, 30)]
    boxes = {"a.jpg": 4, "b.jpg": 8, "c.jpg": 30, "d.jpg": 12}
    r = evaluate_grades(preds, counts=boxes, counts_name="voc")
    c = r["counts"]
    assert (c["evaluated"], c["left_out"], c["left_out_names"]) == (3, 1, ["d.jpg"])
    assert c["counting"]["mae"] == pytest.approx(1.0)
    assert c["counting"]["rmse"] == pytest.approx(math.sqrt(5 / 3))
    assert c["counting"]["mean_error"] == pytest.approx(1 / 3)
    assert c["grading"]["accuracy"] == 1.0  # box grades 0, 1, 2
    assert c["mean_box_count"] == pytest.approx(14)
    assert [(x["box_count"], x["box_grade"]) for x in r["per_image"]] == [(4, 0), (8, 1), (30, 2)]
    assert r["grades"] is None and r["box_grade_vs_reference_grade"] is None
    # --all-gt: d.jpg scored as no lesions found (count 0 against 12 boxes, grade 0 against 1)
    a = evaluate_grades(preds, counts=boxes, counts_name="voc", all_ref=True)["counts"]
    assert (a["evaluated"], a["left_out"], a["scored_as_no_lesions"]) == (4, 0, ["d.jpg"])
    assert a["counting"]["mae"] == pytest.approx((1 + 2 + 0 + 12) / 4)
    assert a["grading"]["accuracy"] == pytest.approx(3 / 4)


def test_grades_against_reference_and_box_grade_for_scale():
    preds = [_p("a.jpg", 0, 3), _p("b.jpg", 1, 10), _p("c.jpg", 1, 15), _p("d.jpg", 3, 60)]
    ref = {"a.jpg": 0, "b.jpg": 1, "c.jpg": 2, "d.jpg": 3}
    boxes = {"a.jpg": 2, "b.jpg": 9, "c.jpg": 12, "d.jpg": 55}
    r = evaluate_grades(preds, grades=ref, grades_name="ref.csv", counts=boxes, counts_name="voc")
    g = r["grades"]
    assert g["accuracy"] == pytest.approx(0.75) and g["reference"] == "ref.csv"
    assert g["confusion_matrix"][2] == [0, 1, 0, 0]
    assert r["box_grade_vs_reference_grade"]["accuracy"] == pytest.approx(0.75)  # c: 12 boxes -> grade 1
    assert r["labels"] == ["mild", "moderate", "severe", "very severe"]
    assert r["predictions"]["grade_sources"]["graded lesions"] == 4


def test_prediction_missing_from_the_reference_is_an_error():
    with pytest.raises(DatasetError, match=r"pred.json: images\[z.jpg\].file_name: image 'z.jpg' is not in the "
                                           r"reference ref.csv"):
        evaluate_grades([_p("z.jpg", 0, 1)], grades={"a.jpg": 0}, grades_name="ref.csv")


def test_old_assessments_and_notes_said_once():
    old = [_assessment(f"levle1_{i}.jpg", 2, 25, path=f"{i}/assessment.json") for i in range(3)]
    for ds in old:
        ds.extra["summary"]["grade"].update(method="hayashi-count-bands", bands=[5, 20, 50])
    preds, notes = all_predicted_grades(old)
    assert len(preds) == 3 and len(notes) == 1 and "count band of all lesions" in notes[0]


def test_real_voc_boxes_reproduce_the_filename_grade_on_val(acne640):
    # ACNE04's boxes: Hayashi bands on the box count give the file-name grade on ~96% of val
    names = (acne640 / "val.txt").read_text().split()
    boxes = load_box_counts(acne640 / "voc")
    assert len(boxes) == 1026 and set(names) <= set(boxes)
    ref = grades_from_filenames((n, "val.txt", "") for n in names)
    preds = [PredictedGrade(n, ref[n], boxes[n], "graded lesions", None, "") for n in names]
    r = evaluate_grades(preds, grades=ref, grades_name="filename-prefix", counts=boxes, counts_name="voc")
    assert r["counts"]["left_out"] == 1026 - len(names) and r["counts"]["counting"]["mae"] == 0.0
    assert 0.95 <= r["box_grade_vs_reference_grade"]["accuracy"] <= 0.98
