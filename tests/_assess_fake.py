"""A deterministic stand-in for the trained detector and synthetic photos with red discs."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from acnekit.circles import Circles

SKIN = (205, 165, 145)
RED = (220, 30, 30)


class FakeDetector:
    """Finds saturated red discs: centroid and equal-area radius of each red blob, score 0.9;
    its graded head grades the discs of radius >= 8 px (graded score 0.9, else 0.1)."""

    name = "fake-red-discs"
    score_threshold = 0.5
    graded_threshold = 0.5
    graded_card = {"name": "fake-graded", "graded_threshold": 0.5}
    working_scale = {"rule": "area", "area": 640 * 640}
    card = {"name": name, "min_score": 0.05}

    def __init__(self):
        self.calls = 0

    def predict(self, rgb: np.ndarray, score_thr: float | None = None, work_scale: float | None = None,
                source_quality: float | None = None) -> Circles:
        """``work_scale`` (the face rule's resize, on photos where a face is found) is ignored:
        the fake finds its discs in the photo's own pixels."""
        self.calls += 1
        r, g, b = (rgb[..., i].astype(int) for i in range(3))
        mask = (r > 170) & (g < 90) & (b < 90)
        lab, n = ndimage.label(mask)
        if n == 0:
            return Circles.empty(with_score=True)
        idx = np.arange(1, n + 1)
        area = ndimage.sum(mask, lab, idx)
        cy, cx = np.array(ndimage.center_of_mass(mask, lab, idx)).T
        score = np.full(n, 0.9)
        thr = self.score_threshold if score_thr is None else score_thr
        r = np.sqrt(area / np.pi)
        c = Circles(np.column_stack([cx + 0.5, cy + 0.5]), r, score, graded_score=np.where(r >= 7.5, 0.9, 0.1))
        return c[c.score >= thr]


    def predict_many(self, rgbs, score_thr: float | None = None) -> list[Circles]:
        return [self.predict(rgb, score_thr) for rgb in rgbs]


def photo(width: int = 320, height: int = 240, discs=((60, 50, 8), (200, 120, 12), (100, 180, 5))) -> np.ndarray:
    """Skin-coloured RGB image with red discs at (x, y, r)."""
    img = Image.new("RGB", (width, height), SKIN)
    d = ImageDraw.Draw(img)
    for x, y, r in discs:
        d.ellipse([x - r, y - r, x + r, y + r], fill=RED)
    return np.asarray(img)
