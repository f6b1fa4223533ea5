"""The reference grade: Hayashi bands on the graded-lesion count, with grade probabilities.

The graded lesions are those the graded head (`acnekit.detector.graded`) expects ACNE04's
dermatologists to have marked; Hayashi bands on the number of their marks reproduce ACNE04's
own grade on 97% of its photos. The grade is the band of the graded count. Its
``probabilities`` model the reference count N (the number of marks a dermatologist would
have made) as log-normal around the graded count k: log(N + 1) ~ Normal(log(k + 1),
``SIGMA``), read with a continuity correction (P(N <= u) = Phi((log(u + 1.5) - log(k + 1)) /
SIGMA)); the probability of grade g is P(N falls in band g). ``SIGMA`` was fitted on val
(`fit_sigma`: maximum likelihood of the val photos' ACNE04 grades). A log-normal rather
than a negative binomial: fitted the same way, the negative binomial's dispersion (1.41)
made it so skewed that a graded count of 8 (moderate) gave "mild" the highest probability.
Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from acnekit.grading import HAYASHI_UPPER, band_labels, check_bands, grade_name, hayashi_grade

# Fitted on acne04-640/val.txt with the shipped graded head (recorded in its card,
# weights/acnekit-graded.json, under "probabilities").
SIGMA = 0.6
METHOD = "reference-graded-count"
REFERENCE_CAVEAT = (
    "Reproduces ACNE04's dermatologists' Hayashi grading, which counts the conspicuous lesions they "
    "marked (about 8 per photo), not every lesion. The reference itself is noisy: the ACNE04 grades of "
    "16 pairs of same-session photos of one face agree 62.5% of the time. A screening aid, not a "
    "clinical diagnosis."
)


def _phi(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(z, float) / math.sqrt(2.0)))


def grade_probabilities(count: float, bands: Sequence[int] = HAYASHI_UPPER, sigma: float = SIGMA) -> np.ndarray:
    """(len(bands) + 1,) probabilities of each grade given the graded count; they sum to 1."""
    check_bands(bands)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    cdf = _phi((np.log(np.asarray(bands, float) + 1.5) - math.log(float(count) + 1.0)) / sigma)
    p = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    p = np.clip(p, 0.0, None)
    return p / p.sum()


def fit_sigma(counts: Sequence[float], grades: Sequence[int], bands: Sequence[int] = HAYASHI_UPPER,
              grid: Sequence[float] | None = None) -> tuple[float, float]:
    """The sigma (on a grid) that maximises the mean log-likelihood of the reference
    ``grades`` given the graded ``counts``; returns (sigma, mean log-likelihood)."""
    grid = np.round(np.arange(0.05, 2.001, 0.01), 3) if grid is None else np.asarray(grid, float)
    counts, grades = np.asarray(counts, float), np.asarray(grades, int)
    best = (float(grid[0]), -np.inf)
    for sg in grid:
        ll = float(np.mean([math.log(max(grade_probabilities(k, bands, sg)[g], 1e-12)) for k, g in zip(counts, grades)]))
        if ll > best[1]:
            best = (float(sg), ll)
    return best


def reference_grade(count: int, bands: Sequence[int] = HAYASHI_UPPER, sigma: float = SIGMA) -> dict[str, Any]:
    """``summary.grade``: the Hayashi band of the graded-lesion ``count`` and the four (or
    len(bands) + 1) grade probabilities."""
    bands = tuple(int(b) for b in bands)
    check_bands(bands)
    n = int(count)
    g = int(hayashi_grade(n, bands))
    labels = band_labels(bands)
    name = grade_name(g, bands)
    probs = grade_probabilities(n, bands, sigma)
    return {
        "method": METHOD, "grade": g, "name": name, "count": n, "bands": list(bands), "labels": labels,
        "band": labels[g], "probabilities": [round(float(p), 4) for p in probs],
        "explanation": f"{n} graded lesions (the conspicuous ones the reference grading counts) fall in the "
                       f"count band {labels[g]} -> grade {g} ({name}); probabilities allow for the graded "
                       f"count's uncertainty (log-normal, sigma {sigma:g} on log(count + 1), fitted on val)",
        "caveat": REFERENCE_CAVEAT,
    }
