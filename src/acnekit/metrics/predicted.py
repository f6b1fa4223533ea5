"""The predicted grade (and graded count) of each image of a prediction file.

* An assessment (``assessment.json``: one image and a ``summary``): ``summary.grade.grade``,
  and ``summary.grade.count`` as its count (else the counted lesions).
* A detect / Acne04-v2 file (any number of images): the lesions flagged ``"graded": true``
  when the file carries that flag, else every lesion at the score threshold (said in a
  note: that all-lesion count grades higher than ACNE04's labels); the grade is the
  Hayashi band of that count.

Lesions with ``"in_skin": false`` or ``"removed": true`` are never counted. ``load_predictions``
reads files, and folders of assessments (``DIR/assessment.json``, ``DIR/*/assessment.json``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from acnekit.dataset import AcneDataset, ImageRecord, load_dataset
from acnekit.errors import DatasetError, short_repr
from acnekit.grading import HAYASHI_UPPER, hayashi_grade

ASSESSMENT_NAME = "assessment.json"
SOURCES = ("summary.grade", "graded lesions", "all lesions")


@dataclass(frozen=True)
class PredictedGrade:
    """One image's predicted grade and the count it comes from; ``path``/``where`` locate it."""

    file_name: str
    grade: int
    count: int
    source: str  # one of SOURCES
    path: str | None
    where: str


def is_assessment(ds: AcneDataset) -> bool:
    return isinstance(ds.extra.get("summary"), dict)


def load_predictions(inputs: Sequence[str | Path]) -> list[AcneDataset]:
    """Load prediction files; a folder stands for the assessments in it."""
    out = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = [p / ASSESSMENT_NAME] if (p / ASSESSMENT_NAME).is_file() else []
            files += sorted(f for f in p.glob(f"*/{ASSESSMENT_NAME}") if not f.parent.name.startswith("."))
            if not files:
                raise DatasetError(f"no {ASSESSMENT_NAME} in this folder or its subfolders", path=p)
            out += [load_dataset(f) for f in files]
        else:
            out.append(load_dataset(p))
    return out


def _bool_field(extra: dict, key: str, path, where: str) -> bool | None:
    v = extra.get(key)
    if v is not None and not isinstance(v, bool):
        raise DatasetError(f"must be true or false, got {short_repr(v)}", path=path, where=f"{where}.{key}")
    return v


def _counted(im: ImageRecord, path, where: str, *, graded: bool, score_thr: float | None) -> int:
    extras = im.ann_extra or [{} for _ in range(im.count)]
    ids = im.ann_ids if im.ann_ids is not None else range(im.count)
    n = 0
    for k, (e, aid) in enumerate(zip(extras, ids)):
        w = f"{where} annotation id {aid}"
        if _bool_field(e, "in_skin", path, w) is False or _bool_field(e, "removed", path, w) is True:
            continue
        if graded:
            n += _bool_field(e, "graded", path, w) is True
        else:
            s = None if im.circles.score is None else float(im.circles.score[k])
            n += score_thr is None or s is None or s >= score_thr
    return n


def _file_threshold(ds: AcneDataset, score_thr: float | None) -> float | None:
    if score_thr is not None:
        return float(score_thr)
    v = ds.info.get("score_threshold")
    if v is None:
        return None
    if type(v) not in (int, float) or not math.isfinite(v):
        raise DatasetError(f"must be a finite number, got {short_repr(v)}", path=ds.path, where="info.score_threshold")
    return float(v)


def _summary_grade(ds: AcneDataset, n_grades: int) -> tuple[int, int | None] | None:
    g = ds.extra["summary"].get("grade")
    if not isinstance(g, dict) or "grade" not in g:
        return None
    v = g["grade"]
    if type(v) is not int or not 0 <= v < n_grades:
        raise DatasetError(f"must be an integer 0-{n_grades - 1}, got {short_repr(v)}", path=ds.path,
                           where="summary.grade.grade")
    c = g.get("count")
    if c is not None and (type(c) is not int or c < 0):
        raise DatasetError(f"must be a non-negative integer, got {short_repr(c)}", path=ds.path,
                           where="summary.grade.count")
    return v, c


def predicted_grades(ds: AcneDataset, bands: Sequence[int] = HAYASHI_UPPER,
                     score_thr: float | None = None) -> tuple[list[PredictedGrade], list[str]]:
    """Per image of ``ds``: its predicted grade and count; and notes on how they were read.

    ``score_thr`` (else the file's ``info.score_threshold``) applies to all-lesion counts only;
    the ``graded`` flag and an assessment's summary are taken as they are."""
    n_grades = len(bands) + 1
    notes: list[str] = []
    name = ds.path or "predictions"
    if is_assessment(ds) and len(ds.images) == 1 and (sg := _summary_grade(ds, n_grades)) is not None:
        im = ds.images[0]
        grade, count = sg
        if count is None:
            count = _counted(im, ds.path, "images[0]", graded=False, score_thr=None)
        sg_dict = ds.extra["summary"]["grade"]
        b = sg_dict.get("bands")
        if b is not None and list(b) != list(bands):
            notes.append(f"some assessments were graded with bands {b}, not {list(bands)}: their own grade is used")
        if sg_dict.get("method") == "hayashi-count-bands":
            notes.append("some assessments predate the reference grade: their summary.grade is the count band of "
                         "all lesions, which grades higher than ACNE04's own grades")
        return [PredictedGrade(im.file_name, grade, int(count), SOURCES[0], ds.path, "images[0]")], notes
    graded = any("graded" in e for im in ds.images for e in (im.ann_extra or ()))
    thr = None if graded else _file_threshold(ds, score_thr)
    out = []
    for i, im in enumerate(ds.images):
        where = f"images[{i}]"
        n = _counted(im, ds.path, where, graded=graded, score_thr=thr)
        out.append(PredictedGrade(im.file_name, int(hayashi_grade(n, bands)), n, SOURCES[1 if graded else 2],
                                  ds.path, where))
    if not graded and out:
        at = "every circle (no score threshold given or recorded)" if thr is None else f"circles with score >= {thr:g}"
        notes.append(f"{name}: no lesion carries 'graded': grades come from the all-lesion count of {at}; "
                     f"Acne04-v2-style all-lesion counts grade higher than ACNE04's own grades")
    return out, notes


def all_predicted_grades(datasets: Sequence[AcneDataset], bands: Sequence[int] = HAYASHI_UPPER,
                         score_thr: float | None = None) -> tuple[list[PredictedGrade], list[str]]:
    """`predicted_grades` over several files; an image named twice is an error."""
    out: list[PredictedGrade] = []
    notes: list[str] = []
    seen: dict[str, PredictedGrade] = {}
    for ds in datasets:
        grades, n = predicted_grades(ds, bands, score_thr)
        for p in grades:
            if p.file_name in seen:
                q = seen[p.file_name]
                raise DatasetError(f"image {p.file_name!r} is also predicted in {q.path or 'another input'} "
                                   f"({q.where})", path=p.path, where=f"{p.where}.file_name")
            seen[p.file_name] = p
        out += grades
        notes += [x for x in n if x not in notes]
    return out, notes


def merged(datasets: Sequence[AcneDataset]) -> AcneDataset:
    """One dataset of every image of ``datasets`` (ids renumbered), for detection scoring."""
    if len(datasets) == 1:
        return datasets[0]
    from dataclasses import replace

    images = [replace(im, id=i) for i, im in enumerate(im for ds in datasets for im in ds.images)]
    info = dict(datasets[0].info)
    thr = {ds.info.get("score_threshold") for ds in datasets}
    if len(thr) > 1:
        info.pop("score_threshold", None)
    return AcneDataset(images=images, info=info, path=", ".join(str(ds.path) for ds in datasets[:3])
                       + (f", ... ({len(datasets)} files)" if len(datasets) > 3 else ""))


def grades_array(preds: Sequence[PredictedGrade]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([p.grade for p in preds], dtype=np.int64), np.array([p.count for p in preds], dtype=np.int64))
