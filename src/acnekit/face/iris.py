"""Physical scale from the iris: the visible iris of adults is about 11.7 mm across (sd about
0.5 mm, nearly the same for everyone), so its diameter in pixels gives pixels per mm.

An iris seen at an angle is an ellipse whose long axis keeps the true diameter, so each eye's
diameter is the longer of the two axes through its four boundary points. Side views (ACNE04
photos are about 70 degrees from frontal): the far eye is foreshortened and partly hidden by
the nose, so the eye whose corners lie further apart in the photo (the nearer, more frontal
eye) is used; the other eye is averaged in only when it agrees within `AGREE`, otherwise it
is rejected and the note says so. The result must be plausible: an iris of at least
`MIN_IRIS_PX` pixels, and a face whose mesh height (forehead landmark 10 to chin 152) is
`FACE_HEIGHT_MM` long at that scale; else no scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

IRIS_MM = 11.7
IRIS_SD_MM = 0.5
MEASURE_SD = 0.05  # relative sd of one eye's measurement by the iris model (seen between eyes/crops)
AGREE = 0.15  # the two eyes' px/mm may differ by this share at most to be averaged
MIN_IRIS_PX = 8.0
MIN_EYE_SHARE = 0.6  # the other eye must be at least this wide (vs the nearer eye) to be used
FACE_HEIGHT_MM = (120.0, 280.0)  # plausible mesh height, landmark 10 (upper forehead) to 152 (chin)
TOP, CHIN = 10, 152


@dataclass(frozen=True)
class EyeMeasure:
    eye: str
    diameter_px: float  # the ellipse's long axis
    minor_px: float
    eye_width_px: float  # distance between the eye corners

    @property
    def px_per_mm(self) -> float:
        return self.diameter_px / IRIS_MM


def measure_eye(eye: str, iris: np.ndarray, corners: np.ndarray) -> EyeMeasure:
    """``iris`` (5, 2): centre then four boundary points (opposite pairs 1-3, 2-4);
    ``corners`` (2, 2): the eye's corners."""
    iris = np.asarray(iris, dtype=np.float64)
    a = float(np.linalg.norm(iris[1] - iris[3]))
    b = float(np.linalg.norm(iris[2] - iris[4]))
    return EyeMeasure(eye, max(a, b), min(a, b), float(np.linalg.norm(corners[1] - corners[0])))


def iris_scale(eyes: list[EyeMeasure], face_height_px: float | None = None) -> dict[str, Any]:
    """The scale from one or two measured eyes: {px_per_mm (or None), uncertainty (px/mm, one
    sd), note, eyes (per eye: diameter, px/mm, used, why not)}."""
    per_eye = {e.eye: {"iris_diameter_px": e.diameter_px, "px_per_mm": e.px_per_mm, "eye_width_px": e.eye_width_px,
                       "used": False} for e in eyes}
    ok = [e for e in eyes if e.diameter_px >= MIN_IRIS_PX]
    for e in eyes:
        if e.diameter_px < MIN_IRIS_PX:
            per_eye[e.eye]["rejected"] = f"iris {e.diameter_px:.1f} px < {MIN_IRIS_PX:g} px"
    if not ok:
        return {"px_per_mm": None, "uncertainty": None, "eyes": per_eye,
                "note": "no iris large enough to measure: sizes in pixels"}
    ok.sort(key=lambda e: e.eye_width_px, reverse=True)
    near = ok[0]
    used = [near]
    note = f"iris of the nearer eye ({near.eye} in the photo), {IRIS_MM} mm assumed"
    for other in ok[1:]:
        rel = abs(other.px_per_mm - near.px_per_mm) / near.px_per_mm
        if other.eye_width_px < MIN_EYE_SHARE * near.eye_width_px:
            per_eye[other.eye]["rejected"] = "side view: eye foreshortened"
        elif rel > AGREE:
            per_eye[other.eye]["rejected"] = f"disagrees with the nearer eye by {100 * rel:.0f}%"
        else:
            used.append(other)
            note = f"mean of both irises, {IRIS_MM} mm assumed"
    for e in used:
        per_eye[e.eye]["used"] = True
    ppm = float(np.mean([e.px_per_mm for e in used]))
    rel_sd = math.hypot(IRIS_SD_MM / IRIS_MM, MEASURE_SD / math.sqrt(len(used)))
    if face_height_px is not None:
        h_mm = face_height_px / ppm
        lo, hi = FACE_HEIGHT_MM
        if not lo <= h_mm <= hi:
            return {"px_per_mm": None, "uncertainty": None, "eyes": per_eye,
                    "note": f"iris scale implausible (face {h_mm:.0f} mm high, expected {lo:g}-{hi:g}): "
                            "sizes in pixels"}
    return {"px_per_mm": ppm, "uncertainty": ppm * rel_sd, "eyes": per_eye, "note": note}
