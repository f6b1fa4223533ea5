"""Dataset statistics: counts, lesions per image, radius percentiles, grades.

`dataset_stats` works on a (possibly repaired) dataset. Invalid annotations that the lenient
loader dropped are passed in as ``n_annotations`` (the file's total) and ``issues``: the
headline lesion figure is the file's annotation count, and every figure computed from
circles (per-image counts, radii, grades) uses the valid circles only and says so.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from acnekit.dataset import AcneDataset
from acnekit.grading import HAYASHI_UPPER, band_labels, filename_grade, grade_name, hayashi_grade

COUNT_PERCENTILES = (10, 25, 50, 75, 90, 95, 99)
RADIUS_PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


def _summary(values: np.ndarray, percentiles: Sequence[int]) -> dict:
    if len(values) == 0:
        return {"n": 0}
    out = {
        "n": int(len(values)),
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
    }
    for p, v in zip(percentiles, np.percentile(values, percentiles)):
        out[f"p{p}"] = float(v)
    return out


def dataset_stats(
    ds: AcneDataset,
    *,
    px_per_mm: float | None = None,
    bands: Sequence[int] = HAYASHI_UPPER,
    n_annotations: int | None = None,
    n_image_records: int | None = None,
    issues: list | None = None,
    no_photo: tuple[int, int] = (0, 0),
    scores=None,
) -> dict:
    """All figures of `acnekit stats` as a JSON-ready dict.

    ``n_annotations`` / ``n_image_records``: totals in the file (defaults: what ``ds`` holds).
    ``issues``: problems the lenient loader repaired (their count is reported as invalid).
    ``no_photo``: (images, lesions) left out because their photo is not in the --images folder.
    ``scores``: the `acnekit.scores.ScoreFilter` applied to ``ds`` (circles below it left out).
    """
    counts = ds.counts()
    radii = np.concatenate([im.circles.radius for im in ds.images]) if len(ds) else np.zeros(0)
    valid = int(counts.sum())
    issues = issues or []
    out: dict = {
        "file": ds.path,
        "images": n_image_records if n_image_records is not None else len(ds),
        "images_valid": len(ds),
        "lesions": n_annotations if n_annotations is not None else valid,
        "lesions_valid": valid,
        "images_no_photo": no_photo[0],
        "lesions_no_photo": no_photo[1],
        "lesions_below_threshold": scores.dropped if scores is not None else 0,
        "problems": len(issues),
        "problems_by_kind": _by_kind(issues),
        "lesions_per_image": _summary(counts.astype(float), COUNT_PERCENTILES),
        "radius_px": _summary(radii, RADIUS_PERCENTILES),
    }
    if scores is not None and scores.source != "no scores":
        out["scores"] = {**scores.to_dict(), "note": scores.describe()}
    if px_per_mm is not None:
        if not px_per_mm > 0:
            raise ValueError(f"px_per_mm must be positive, got {px_per_mm}")
        out["px_per_mm"] = px_per_mm
        out["radius_mm"] = {k: (v / px_per_mm if k != "n" else v) for k, v in out["radius_px"].items()}
    prefixes: dict[str, int] = {}
    for im in ds.images:
        g = filename_grade(im.file_name)
        key = f"levle{g}" if g is not None else "(no prefix)"
        prefixes[key] = prefixes.get(key, 0) + 1
    out["filename_grades"] = dict(sorted(prefixes.items()))
    grades = hayashi_grade(counts, bands)
    hist = np.bincount(grades, minlength=len(bands) + 1)
    out["hayashi"] = [
        {"grade": g, "name": grade_name(g, bands), "lesions": label, "images": int(hist[g])}
        for g, label in enumerate(band_labels(bands))
    ]
    empty = [im.file_name for im in ds.images if im.count == 0]
    out["images_without_lesions"] = len(empty)
    out["images_without_lesions_names"] = empty
    return out


def _by_kind(issues: list) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for i in issues:
        kinds[i.code] = kinds.get(i.code, 0) + 1
    return kinds


def format_stats(s: dict) -> str:
    """The text report of `acnekit stats`."""
    lines = [f"file: {s['file']}"]
    img = f"images: {s['images']:,}"
    invalid_img = s["images"] - s["images_valid"] - s["images_no_photo"]
    left = [f"{invalid_img:,} invalid"] if invalid_img else []
    left += [f"{s['images_no_photo']:,} without a photo in --images"] if s["images_no_photo"] else []
    if left:
        img += f" ({', '.join(left)}; left out of the figures below)"
    lines.append(img)
    les = f"lesions: {s['lesions']:,} annotations"
    below = s.get("lesions_below_threshold", 0)
    invalid = s["lesions"] - s["lesions_valid"] - s["lesions_no_photo"] - below
    kinds = ", ".join(f"{k}: {v}" for k, v in s["problems_by_kind"].items())
    left = [f"{invalid:,} invalid"] if invalid else []
    left += [f"{s['lesions_no_photo']:,} on images without a photo"] if s["lesions_no_photo"] else []
    left += [f"{below:,} scoring below the threshold"] if below else []
    if left:
        les += f" ({', '.join(left)}; left out of the figures below)"
    lines.append(les)
    if s.get("scores"):
        lines.append(f"scores: {s['scores']['note']}")
    if s["problems"]:
        lines.append(f"problems: {s['problems']} found and repaired or dropped ({kinds}); "
                     "see `acnekit validate FILE`")
    c = s["lesions_per_image"]
    if c["n"]:
        pct = " ".join(f"p{p}={c[f'p{p}']:g}" for p in COUNT_PERCENTILES)
        lines.append(f"lesions per image: mean {c['mean']:.2f}, median {c['median']:g}, min {c['min']:g}, "
                     f"max {c['max']:g}; {pct}")
    for unit in ("px", "mm"):
        r = s.get(f"radius_{unit}")
        if not r:
            continue
        if not r["n"]:
            lines.append(f"radius ({unit}): no circles")
            continue
        pct = " ".join(f"p{p}={r[f'p{p}']:.3g}" for p in RADIUS_PERCENTILES)
        extra = f" at {s['px_per_mm']:g} px/mm" if unit == "mm" else ""
        lines.append(f"radius ({unit}{extra}): mean {r['mean']:.3g}, median {r['median']:.3g}, "
                     f"min {r['min']:.3g}, max {r['max']:.3g}; {pct}")
    lines.append("images per filename grade: " + ", ".join(f"{k}: {v}" for k, v in s["filename_grades"].items()))
    lines.append("Hayashi grade of the count:")
    for h in s["hayashi"]:
        lines.append(f"  {h['grade']} {h['name']:<12} {h['lesions']:>7} lesions: {h['images']} images")
    empty = s["images_without_lesions_names"]
    names = f" ({', '.join(empty[:5])}{', ...' if len(empty) > 5 else ''})" if empty else ""
    lines.append(f"images without lesions: {s['images_without_lesions']}{names}")
    return "\n".join(lines)
