"""Severity grades from lesion counts.

Hayashi criterion (as used by ACNE04, Wu et al., ICCV 2019): 0-5 lesions mild (grade 0),
6-20 moderate (1), 21-50 severe (2), more than 50 very severe (3).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

HAYASHI_UPPER = (5, 20, 50)  # inclusive upper count of grades 0, 1, 2; above the last is grade 3
HAYASHI_NAMES = ("mild", "moderate", "severe", "very severe")
_PREFIX = re.compile(r"^levle(\d+)_")


def parse_bands(text: str) -> tuple[int, ...]:
    """``"5,20,50"`` -> (5, 20, 50): inclusive upper counts of each grade but the last."""
    try:
        bands = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ValueError(f"bands must be comma-separated integers, got {text!r}") from None
    check_bands(bands)
    return bands


def check_bands(bands: Sequence[int]) -> None:
    if len(bands) < 1 or any(b < 0 for b in bands) or any(b2 <= b1 for b1, b2 in zip(bands, bands[1:])):
        raise ValueError(f"bands must be increasing non-negative integers, got {list(bands)}")


def hayashi_grade(counts, bands: Sequence[int] = HAYASHI_UPPER) -> np.ndarray:
    """Grade index per count: the number of band upper bounds the count exceeds."""
    check_bands(bands)
    c = np.asarray(counts)
    return np.searchsorted(np.asarray(bands), c, side="left").astype(np.int64)


def grade_name(grade: int, bands: Sequence[int] = HAYASHI_UPPER) -> str:
    if len(bands) == len(HAYASHI_UPPER):
        return HAYASHI_NAMES[int(grade)]
    return f"grade {int(grade)}"


def band_labels(bands: Sequence[int] = HAYASHI_UPPER) -> list[str]:
    """Human-readable count range of each grade, e.g. ['0-5', '6-20', '21-50', '>50']."""
    lows = [0] + [b + 1 for b in bands]
    return [f"{lo}-{hi}" for lo, hi in zip(lows, bands)] + [f">{bands[-1]}"]


def filename_grade(file_name: str) -> int | None:
    """ACNE04's grade from a file name like ``levle2_130.jpg`` (ACNE04 spells it 'levle')."""
    m = _PREFIX.match(file_name)
    return int(m.group(1)) if m else None


COUNT_CAVEAT = (
    "Acne04-v2-style counts include non-inflammatory lesions (comedones), so Hayashi bands applied "
    "to them grade higher than ACNE04's own labels: only 31% of the 1204 Acne04-v2 photos get the "
    "same Hayashi grade from their v2 count as their ACNE04 grade. Treat the grade as a count band, "
    "not a clinical diagnosis."
)
