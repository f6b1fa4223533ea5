"""The reference grade: Hayashi bands on the graded-lesion count, with grade probabilities.

The graded lesions are those the graded head (`acnekit.detector.graded`) expects ACNE04's
dermatologists to have marked; Hayashi bands on the number of their marks reproduce ACNE04's
own grade on 97% of its photos. The grade is the band of the graded count. Its
``probabilities`` model the reference count N (the number of marks a dermatologist would
have made) as negative binomial around the graded count k: mean ``max(k, MIN_MEAN)``,
variance ``mean + dispersion * mean**2``, with ``dispersion`` fitted on val
(`fit_dispersion`: maximum likelihood of the val photos' ACNE04 grades); the probability of
grade g is P(N falls in band g). Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from acnekit.grading import HAYASHI_UPPER, band_labels, check_bands, grade_name, hayashi_grade

# Fitted on acne04-640/val.txt by `python -m acnekit.detector.graded_train` (recorded in the
# graded head's card, weights/acnekit-graded.json, under "probabilities").
DISPERSION = 0.15
MIN_MEAN = 0.5  # a zero count still leaves some chance of a few marks
METHOD = "reference-graded-count"
REFERENCE_CAVEAT = (
    "Reproduces ACNE04's dermatologists' Hayashi grading, which counts the conspicuous lesions they "
    "marked (about 8 per photo), not every lesion. The reference itself is noisy: the ACNE04 grades of "
    "16 pairs of same-session photos of one face agree 62.5% of the time. A screening aid, not a "
    "clinical diagnosis."
)


def count_pmf(mean: float, upto: int, dispersion: float = DISPERSION) -> np.ndarray:
    """P(N = 0..upto) for N negative binomial with this mean and variance
    ``mean + dispersion * mean**2`` (Poisson when ``dispersion`` is 0)."""
    if not (mean > 0) or dispersion < 0:
        raise ValueError(f"need mean > 0 and dispersion >= 0, got {mean}, {dispersion}")
    n = np.arange(upto + 1, dtype=np.float64)
    if dispersion == 0:
        logp = n * math.log(mean) - mean - np.array([math.lgamma(k + 1) for k in n])
    else:
        r = 1.0 / dispersion
        lg = np.array([math.lgamma(k + r) - math.lgamma(k + 1) for k in n]) - math.lgamma(r)
        logp = lg + r * math.log(r / (r + mean)) + n * math.log(mean / (r + mean))
    return np.exp(logp)


def grade_probabilities(count: float, bands: Sequence[int] = HAYASHI_UPPER,
                        dispersion: float = DISPERSION) -> np.ndarray:
    """(len(bands) + 1,) probabilities of each grade given the graded count; they sum to 1."""
    check_bands(bands)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    pmf = count_pmf(max(float(count), MIN_MEAN), int(bands[-1]), dispersion)
    cdf = np.cumsum(pmf)[list(bands)]
    p = np.diff(np.concatenate([[0.0], np.minimum(cdf, 1.0), [1.0]]))
    p = np.clip(p, 0.0, None)
    return p / p.sum()


def fit_dispersion(counts: Sequence[float], grades: Sequence[int], bands: Sequence[int] = HAYASHI_UPPER,
                   grid: Sequence[float] | None = None) -> tuple[float, float]:
    """The dispersion (on a log grid) that maximises the mean log-likelihood of the reference
    ``grades`` given the graded ``counts``; returns (dispersion, mean log-likelihood)."""
    grid = np.concatenate([[0.0], np.logspace(-3, 1, 81)]) if grid is None else np.asarray(grid, float)
    counts, grades = np.asarray(counts, float), np.asarray(grades, int)
    best = (float(grid[0]), -np.inf)
    for a in grid:
        ll = np.mean([math.log(max(grade_probabilities(k, bands, a)[g], 1e-12)) for k, g in zip(counts, grades)])
        if ll > best[1]:
            best = (float(a), float(ll))
    return best


def reference_grade(count: int, bands: Sequence[int] = HAYASHI_UPPER, dispersion: float = DISPERSION) -> dict[str, Any]:
    """``summary.grade``: the Hayashi band of the graded-lesion ``count`` and the four (or
    len(bands) + 1) grade probabilities."""
    bands = tuple(int(b) for b in bands)
    check_bands(bands)
    n = int(count)
    g = int(hayashi_grade(n, bands))
    labels = band_labels(bands)
    name = grade_name(g, bands)
    probs = grade_probabilities(n, bands, dispersion)
    return {
        "method": METHOD, "grade": g, "name": name, "count": n, "bands": list(bands), "labels": labels,
        "band": labels[g], "probabilities": [round(float(p), 4) for p in probs],
        "explanation": f"{n} graded lesions (the conspicuous ones the reference grading counts) fall in the "
                       f"count band {labels[g]} -> grade {g} ({name}); probabilities allow for the graded "
                       f"count's uncertainty (negative binomial, dispersion {dispersion:g}, fitted on val)",
        "caveat": REFERENCE_CAVEAT,
    }
