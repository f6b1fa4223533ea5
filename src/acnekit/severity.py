"""A continuous severity score in [0, 100], from the lesion count and the lesion area.

    score = 50 * n / (n + N_HALF) + 50 * p / (p + P_HALF)

* ``n``: the number of lesions;
* ``p``: the total lesion area as a percentage of the photo's area: the sum of the disc
  areas pi * r^2 (overlaps counted twice), divided by width * height, times 100. A fraction
  of the photo does not depend on the photo's resolution, nor on whether a mm scale is known;
* ``N_HALF = 20`` lesions (the top of Hayashi's "moderate" band) gives half of the count part;
* ``P_HALF = 1.0`` % of the photo covered gives half of the area part.

Each part saturates towards 50, so the score is below 100, is 0 for no lesions, and never
decreases when a lesion is added or grows (property-tested).
"""

from __future__ import annotations

import math
from typing import Any

N_HALF = 20.0
P_HALF = 1.0
FORMULA = "score = 50 * n / (n + 20) + 50 * p / (p + 1.0); n = lesion count, p = total lesion area as % of the photo"


def severity_score(count: float, area_percent: float) -> float:
    """The score for ``count`` lesions covering ``area_percent`` % of the photo."""
    n, p = float(count), float(area_percent)
    if not (math.isfinite(n) and math.isfinite(p)) or n < 0 or p < 0:
        raise ValueError(f"count and area_percent must be finite and >= 0, got {count!r}, {area_percent!r}")
    return 50.0 * n / (n + N_HALF) + 50.0 * p / (p + P_HALF)


def area_percent(total_area_px: float, width: int, height: int) -> float:
    """Total lesion area (px^2) as a percentage of a ``width`` x ``height`` photo."""
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    return 100.0 * float(total_area_px) / (float(width) * float(height))


def severity(count: int, total_area_px: float, width: int, height: int) -> dict[str, Any]:
    """The score and everything it was computed from, for the assessment JSON."""
    p = area_percent(total_area_px, width, height)
    return {
        "score": severity_score(count, p),
        "formula": FORMULA,
        "inputs": {
            "count": int(count),
            "total_area_px2": float(total_area_px),
            "image_area_px2": int(width) * int(height),
            "area_percent": p,
            "count_half": N_HALF,
            "area_percent_half": P_HALF,
        },
    }
