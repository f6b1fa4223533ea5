"""`evaluate_grades`: predicted grades against reference grades, graded counts against box counts.

* Reference grades (ACNE04 file-name prefix or a CSV): accuracy, confusion matrix, Cohen's
  kappa (plain, linear, quadratic) and LDL's macro precision / SE / SP / Youden index.
* Reference counts (boxes per image, e.g. ACNE04's VOC marks): counting MAE / MSE / RMSE /
  bias of the graded count, and the same grade figures against the Hayashi grade of the box
  count.

Only the images the predictions name are scored; reference images without a prediction are
left out and counted (``all_ref=True``: scored as no lesions found, grade 0). A prediction for
an image the reference lacks is an error.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from acnekit.errors import DatasetError
from acnekit.grading import HAYASHI_UPPER, grade_name, hayashi_grade
from acnekit.metrics.counting import count_errors
from acnekit.metrics.grading import grade_agreement
from acnekit.metrics.predicted import PredictedGrade


def grade_labels(bands: Sequence[int] = HAYASHI_UPPER) -> list[str]:
    return [grade_name(g, bands) for g in range(len(bands) + 1)]


def _align(preds: Sequence[PredictedGrade], ref: dict[str, int], ref_name: str, all_ref: bool):
    """Reference values, predicted grades and counts on the scored images; left-out names."""
    for p in preds:
        if p.file_name not in ref:
            raise DatasetError(f"image {p.file_name!r} is not in the reference {ref_name}", path=p.path,
                               where=f"{p.where}.file_name")
    named = {p.file_name for p in preds}
    left_out = [n for n in ref if n not in named]
    names = [p.file_name for p in preds]
    grades = [p.grade for p in preds]
    counts = [p.count for p in preds]
    if all_ref:
        names += left_out
        grades += [0] * len(left_out)
        counts += [0] * len(left_out)
    ref_values = np.array([ref[n] for n in names], dtype=np.int64)
    return names, ref_values, np.array(grades, dtype=np.int64), np.array(counts, dtype=np.int64), left_out


def _images(n: int, left_out: list[str], all_ref: bool) -> dict:
    return {"evaluated": n, "left_out": 0 if all_ref else len(left_out),
            "left_out_names": [] if all_ref else left_out,
            "scored_as_no_lesions": left_out if all_ref else []}


def evaluate_grades(
    preds: Sequence[PredictedGrade],
    *,
    grades: dict[str, int] | None = None,
    grades_name: str = "reference grades",
    counts: dict[str, int] | None = None,
    counts_name: str = "reference counts",
    bands: Sequence[int] = HAYASHI_UPPER,
    all_ref: bool = False,
) -> dict:
    """Score ``preds`` against reference ``grades`` and/or box ``counts`` ({file_name: int})."""
    if grades is None and counts is None:
        raise ValueError("give reference grades, reference counts, or both")
    k = len(bands) + 1
    labels = grade_labels(bands)
    sources = {s: 0 for s in ("summary.grade", "graded lesions", "all lesions")}
    for p in preds:
        sources[p.source] += 1
    out: dict = {"bands": list(bands), "labels": labels, "all_ref": bool(all_ref),
                 "predictions": {"images": len(preds), "grade_sources": sources},
                 "grades": None, "counts": None, "box_grade_vs_reference_grade": None}
    per_image = {p.file_name: {"file_name": p.file_name, "pred_grade": p.grade, "pred_count": p.count,
                               "source": p.source} for p in preds}
    if grades is not None:
        names, ref, g, _, left = _align(preds, grades, grades_name, all_ref)
        out["grades"] = {"reference": grades_name, **_images(len(names), left, all_ref),
                         **grade_agreement(ref, g, k, labels)}
        for n, r in zip(names, ref):
            per_image.setdefault(n, {"file_name": n, "pred_grade": 0, "pred_count": 0, "source": None})
            per_image[n]["ref_grade"] = int(r)
    if counts is not None:
        names, box, g, c, left = _align(preds, counts, counts_name, all_ref)
        box_grade = hayashi_grade(box, bands)
        out["counts"] = {"reference": counts_name, **_images(len(names), left, all_ref),
                         "mean_box_count": float(box.mean()) if len(box) else None,
                         "mean_pred_count": float(c.mean()) if len(c) else None,
                         "counting": count_errors(box, c),
                         "grading": grade_agreement(box_grade, g, k, labels)}
        for n, b, bg in zip(names, box, box_grade):
            per_image.setdefault(n, {"file_name": n, "pred_grade": 0, "pred_count": 0, "source": None})
            per_image[n].update(box_count=int(b), box_grade=int(bg))
    if grades is not None and counts is not None:
        both = [r for r in per_image.values() if "ref_grade" in r and "box_grade" in r]
        out["box_grade_vs_reference_grade"] = grade_agreement(
            [r["ref_grade"] for r in both], [r["box_grade"] for r in both], k, labels)
    out["per_image"] = list(per_image.values())
    return out
