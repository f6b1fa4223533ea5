"""Calibrated grading: a monotone map from lesion features to a reference grading.

Features come from the lesion circles only, never from the photo's size or file metadata
(in ACNE04 the resolution predicts the grade through the photo's source). Areas are made
resolution-free by rescaling each image's circles to the working scale: an image of
``width x height`` pixels is scaled by ``s = sqrt(WORKING_AREA / (width * height))``, so a
radius r becomes ``r * s`` (the detector's 640 x 640-area working scale).

Per image:

* ``log1p_count``: log(1 + n), n the number of lesions;
* ``log1p_area``: log(1 + A), A the total disc area pi * (r * s)^2 in working pixels^2;
* ``log1p_large``: log(1 + m), m the lesions with working radius >= ``LARGE_RADIUS``
  (the upper tail of the size distribution).

Model: ``score = sum(w_i * feature_i)`` with every ``w_i >= 0`` (so the grade never drops
when a lesion is added or grows), and grade = number of thresholds ``t_1 <= ... <= t_{K-1}``
at or below the score. The direction of ``w`` is searched on a grid over the non-negative
orthant of the standardised features; for each direction the thresholds that maximise the
training accuracy are found exactly (dynamic programme over the sorted scores). Directions
within the best training accuracy are averaged (the middle of the plateau) for robustness.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from acnekit.errors import AcneKitError, short_repr

WORKING_AREA = 640 * 640
LARGE_RADIUS = 6.0  # working pixels: a lesion about 2.4 % of the image side across
FEATURES = ("log1p_count", "log1p_area", "log1p_large")
FORMAT = "acnekit-calibration"
DEFAULT_CALIBRATION = Path(__file__).resolve().parent / "calibration" / "acne04.json"


class CalibrationError(AcneKitError):
    """A calibration file is missing or invalid."""


# ---------------------------------------------------------------------------- features
def lesion_features(radius: np.ndarray, width: float, height: float,
                    working_area: float = WORKING_AREA) -> np.ndarray:
    """(3,) features of one image's circles (radii in the image's pixels)."""
    r = np.asarray(radius, dtype=np.float64).reshape(-1) * math.sqrt(working_area / (float(width) * float(height)))
    return np.array([np.log1p(len(r)), np.log1p(np.sum(np.pi * r**2)), np.log1p(np.sum(r >= LARGE_RADIUS))])


def dataset_features(ds, working_area: float = WORKING_AREA) -> np.ndarray:
    """(n_images, 3) features of every image of an `AcneDataset`."""
    rows = [lesion_features(im.circles.radius, im.width, im.height, working_area) for im in ds]
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))


# ---------------------------------------------------------------------------- fitting
def best_thresholds(score: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    """Ordered thresholds (k-1,) maximising the number of ``y`` equal to the number of
    thresholds <= ``score``; exact, O(n k) after sorting. Returns (thresholds, n_correct)."""
    order = np.argsort(score, kind="stable")
    s, yy = np.asarray(score, dtype=np.float64)[order], np.asarray(y)[order]
    n = len(s)
    cum = np.zeros((k, n + 1))
    for g in range(k):
        cum[g, 1:] = np.cumsum(yy == g)
    valid = np.ones(n + 1, dtype=bool)  # a cut at i puts samples [0, i) below it
    valid[1:n] = s[1:] > s[:-1]
    idx = np.arange(n + 1)
    best = np.where(valid, cum[0], -np.inf)
    back = []
    for g in range(1, k):
        m = best - cum[g]
        run = np.maximum.accumulate(m)
        back.append(np.maximum.accumulate(np.where(m == run, idx, 0)))
        best = np.where(valid, cum[g] + run, -np.inf)
    cuts, i = [], n
    for g in range(k - 1, 0, -1):
        i = int(back[g - 1][i])
        cuts.append(i)
    cuts.reverse()
    thr = []
    for c in cuts:
        if n == 0:
            thr.append(0.0)
        elif c == 0:
            thr.append(float(s[0]) - 1.0)
        elif c == n:
            thr.append(float(s[-1]) + 1.0)
        else:
            thr.append(float((s[c - 1] + s[c]) / 2))
    return np.array(thr), int(best[n])


def directions(n_features: int, steps: int = 24) -> np.ndarray:
    """Unit vectors with non-negative components on a grid (angles in steps of 90/steps deg)."""
    if n_features == 1:
        return np.ones((1, 1))
    angles = np.linspace(0, np.pi / 2, steps + 1)
    out = []
    for a in itertools.product(angles, repeat=n_features - 1):
        v, sin = [], 1.0
        for t in a:
            v.append(sin * math.cos(t))
            sin *= math.sin(t)
        v.append(sin)
        out.append(v)
    d = np.clip(np.array(out), 0, None)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    return np.unique(np.round(d, 12), axis=0)


@dataclass
class Calibration:
    features: list[str]
    weights: np.ndarray  # (F,), >= 0, on the raw features
    thresholds: np.ndarray  # (K-1,) non-decreasing
    working_area: float = WORKING_AREA
    meta: dict = field(default_factory=dict)

    @property
    def n_grades(self) -> int:
        return len(self.thresholds) + 1

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64).reshape(-1, len(self.weights)) @ self.weights

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.thresholds, self.score(X), side="right").astype(np.int64)

    def grade(self, radius: np.ndarray, width: float, height: float) -> dict[str, Any]:
        """The calibrated grade of one image's circles, with the score and features."""
        x = lesion_features(radius, width, height, self.working_area)
        s = float(self.score(x)[0])
        return {"grade": int(np.searchsorted(self.thresholds, s, side="right")), "score": s,
                "features": dict(zip(self.features, map(float, x))), "weights": self.weights.tolist(),
                "thresholds": self.thresholds.tolist(),
                "calibration": self.meta.get("name"),
                **{k: self.meta[k] for k in ("reference", "cv") if k in self.meta}}

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": 1, "features": list(self.features),
                "weights": self.weights.tolist(), "thresholds": self.thresholds.tolist(),
                "working_area": self.working_area, "large_radius": LARGE_RADIUS,
                "model": "grade = #thresholds <= sum(weights * features)", **self.meta}


def fit(X: np.ndarray, y: np.ndarray, k: int, features: Sequence[str] = FEATURES, steps: int = 24) -> Calibration:
    """Fit weights (direction grid on standardised features) and accuracy-optimal thresholds."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    dirs = directions(X.shape[1], steps)
    z = X / std
    correct = np.array([best_thresholds(z @ d, y, k)[1] for d in dirs])
    plateau = dirs[correct == correct.max()]
    d = plateau.mean(axis=0)
    w = d / np.linalg.norm(d) / std
    thr, _ = best_thresholds(X @ w, y, k)
    return Calibration(list(features), w, thr)


def stratified_folds(y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """(n,) fold index per sample, each grade spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(y), dtype=np.int64)
    start = 0
    for g in np.unique(y):
        members = rng.permutation(np.nonzero(y == g)[0])
        out[members] = (np.arange(len(members)) + start) % folds
        start += len(members)
    return out


def cross_validate(X: np.ndarray, y: np.ndarray, k: int, folds: int = 5, seed: int = 0,
                   features: Sequence[str] = FEATURES) -> dict[str, Any]:
    """Out-of-fold predictions of the calibrated model and of count-only thresholds (the
    Hayashi-style baseline, its thresholds fitted per fold too)."""
    from acnekit.metrics.grading import cohen_kappa, confusion_matrix

    fold = stratified_folds(y, folds, seed)
    pred = np.zeros(len(y), dtype=np.int64)
    base = np.zeros(len(y), dtype=np.int64)
    ci = list(features).index("log1p_count")
    for f in range(folds):
        tr, te = fold != f, fold == f
        pred[te] = fit(X[tr], y[tr], k, features).predict(X[te])
        thr, _ = best_thresholds(X[tr, ci], y[tr], k)
        base[te] = np.searchsorted(thr, X[te, ci], side="right")

    def summary(p: np.ndarray) -> dict[str, Any]:
        conf = confusion_matrix(y, p, k)
        per_fold = [float(np.mean(p[fold == f] == y[fold == f])) for f in range(folds)]
        return {"accuracy": float(np.mean(p == y)), "accuracy_per_fold": per_fold,
                "kappa": cohen_kappa(conf), "kappa_quadratic": cohen_kappa(conf, "quadratic"),
                "confusion_matrix": conf.tolist()}

    return {"folds": folds, "seed": seed, "images": int(len(y)), "calibrated": summary(pred),
            "count_only_thresholds": summary(base)}


# ---------------------------------------------------------------------------- I/O
def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration JSON (``"default"``: the one shipped, learned on Acne04-v2 vs ACNE04)."""
    p = DEFAULT_CALIBRATION if str(path) == "default" else Path(path)
    if not p.is_file():
        raise CalibrationError("calibration file not found", path=p)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"not valid JSON ({exc})", path=p) from None
    return calibration_from_dict(obj, p)


def calibration_from_dict(obj: Any, path: str | Path | None = None) -> Calibration:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CalibrationError(f"not an acnekit calibration (format {short_repr(got)})", path=path, where="format")
    if obj.get("features") != list(FEATURES):
        raise CalibrationError(f"features must be {list(FEATURES)}, got {short_repr(obj.get('features'))}",
                               path=path, where="features")
    w = _floats(obj.get("weights"), "weights", path)
    t = _floats(obj.get("thresholds"), "thresholds", path)
    if len(w) != len(FEATURES) or (w < 0).any():
        raise CalibrationError(f"must be {len(FEATURES)} non-negative numbers, got {short_repr(obj.get('weights'))}",
                               path=path, where="weights")
    if len(t) < 1 or (np.diff(t) < 0).any():
        raise CalibrationError(f"must be a non-decreasing list, got {short_repr(obj.get('thresholds'))}",
                               path=path, where="thresholds")
    area = obj.get("working_area", WORKING_AREA)
    if not isinstance(area, (int, float)) or isinstance(area, bool) or not (area > 0 and math.isfinite(area)):
        raise CalibrationError(f"must be a positive number, got {short_repr(area)}", path=path, where="working_area")
    if obj.get("large_radius", LARGE_RADIUS) != LARGE_RADIUS:
        raise CalibrationError(f"must be {LARGE_RADIUS}, got {short_repr(obj.get('large_radius'))}",
                               path=path, where="large_radius")
    known = {"format", "version", "features", "weights", "thresholds", "working_area", "large_radius", "model"}
    return Calibration(list(FEATURES), w, t, float(area), {k: v for k, v in obj.items() if k not in known})


def _floats(v: Any, where: str, path) -> np.ndarray:
    if not isinstance(v, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        raise CalibrationError(f"must be a list of numbers, got {short_repr(v)}", path=path, where=where)
    a = np.array(v, dtype=np.float64)
    if not np.isfinite(a).all():
        raise CalibrationError(f"must be finite, got {short_repr(v)}", path=path, where=where)
    return a


# ---------------------------------------------------------------------------- reference grades
def reference_grades(ds, reference: str) -> np.ndarray:
    """(n_images,) reference grade per image: ``"filename-prefix"`` reads ACNE04's
    ``levleN_`` prefix; otherwise ``reference`` is a CSV with columns ``file_name,grade``."""
    from acnekit.grading import filename_grade

    if reference == "filename-prefix":
        grades = []
        for i, im in enumerate(ds):
            g = filename_grade(im.file_name)
            if g is None:
                raise CalibrationError(f"file name {short_repr(im.file_name)} has no levleN_ grade prefix",
                                       path=ds.path, where=f"images[{i}].file_name")
            grades.append(g)
        return np.array(grades, dtype=np.int64)
    table = read_grade_csv(reference)
    missing = [im.file_name for im in ds if im.file_name not in table]
    if missing:
        raise CalibrationError(f"{len(missing)} of {len(ds)} images have no grade in the CSV, first "
                               f"{short_repr(missing[0])}", path=reference)
    return np.array([table[im.file_name] for im in ds], dtype=np.int64)


def read_grade_csv(path: str | Path) -> dict[str, int]:
    """``file_name,grade`` rows (header required; grades are integers >= 0)."""
    import csv

    p = Path(path)
    if not p.is_file():
        raise CalibrationError("reference CSV not found (or give 'filename-prefix')", path=p)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CalibrationError(f"cannot read CSV ({exc})", path=p) from None
    if not rows or [c.strip() for c in rows[0][:2]] != ["file_name", "grade"]:
        raise CalibrationError(f"header must be file_name,grade, got {short_repr(rows[0] if rows else '')}",
                               path=p, where="line 1")
    out: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < 2:
            raise CalibrationError(f"expected file_name,grade, got {short_repr(row)}", path=p, where=f"line {n}")
        name, g = row[0].strip(), row[1].strip()
        if not g.isdigit():
            raise CalibrationError(f"grade must be an integer >= 0, got {short_repr(g)}", path=p, where=f"line {n}")
        if name in out:
            raise CalibrationError(f"duplicate file_name {short_repr(name)}", path=p, where=f"line {n}")
        out[name] = int(g)
    if not out:
        raise CalibrationError("no grade rows", path=p)
    return out


def calibrate_dataset(ds, y: np.ndarray, *, folds: int = 5, seed: int = 0) -> tuple[Calibration, dict]:
    """Cross-validate, then fit on all images. Returns (calibration, report)."""
    k = int(y.max()) + 1
    counts = np.bincount(y, minlength=k)
    if (counts == 0).any():
        raise CalibrationError(f"every grade 0..{k - 1} needs images; counts per grade {counts.tolist()}")
    if counts.min() < folds:
        raise CalibrationError(f"each grade needs at least {folds} images for {folds}-fold CV; "
                               f"counts per grade {counts.tolist()}")
    X = dataset_features(ds)
    report = cross_validate(X, y, k, folds, seed)
    cal = fit(X, y, k)
    report["in_sample_accuracy"] = float(np.mean(cal.predict(X) == y))
    report["grade_counts"] = counts.tolist()
    return cal, report
