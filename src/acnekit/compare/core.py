"""Compare two visits of one face: assess both photos, register AFTER onto BEFORE, match
the lesions and summarise the change. `compare_photos` returns a `Comparison`;
`Comparison.to_dict()` is ``comparison.json``.

AFTER is detected on its copy warped into BEFORE's frame (see `assess_after`).

Scale: ``--px-per-mm`` / ``--ruler`` describe BEFORE (ruler points in BEFORE's pixels).
AFTER's scale follows from the registration (BEFORE's px/mm divided by the AFTER->BEFORE
scale), so both summaries are in mm when one scale is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acnekit import __version__
from acnekit.assess import Assessment, assess_photo, check_score_thr, summarise
from acnekit.circles import Circles
from acnekit.compare.match import compare_lesions
from acnekit.compare.register import Registration, apply, register, warp_after
from acnekit.scale import Scale

REGISTERED_SCALE_NOTE = "the before photo's scale carried over by the registration (px/mm divided by its scale)"
FAINT_FACTOR = 0.5  # faint threshold = this x the operating threshold
# the registration's support: its inliers' hull grown by this share of the long side (ORB
# finds no keypoint within ~31 px of the skin mask's edge)
SUPPORT_MARGIN = 0.05
DETECTED_ON_NOTE = ("this photo registered onto the before photo's frame (same framing and scale for the "
                    "detector); lesions outside that frame are not detected")


@dataclass(eq=False)
class Comparison:
    before: Assessment
    after: Assessment
    registration: Registration
    body: dict[str, Any]  # counts, links, lesions, changes, gate, common_region
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        b, a = self.before.to_dict(), self.after.to_dict()
        return {
            "info": {"description": "acnekit comparison of two visits: AFTER registered onto BEFORE",
                     "acnekit_version": __version__, "frame": "before photo pixels"},
            "photos": {"before": b["images"][0], "after": a["images"][0]},
            "counts": self.body["counts"],
            "links": self.body["links"],
            "changes": self.body["changes"],
            "registration": self.registration.to_dict(),
            "gate": self.body["gate"],
            "hysteresis": self.body.get("hysteresis"),
            "common_region": self.body["common_region"],
            "lesions": self.body["lesions"],
            "summaries": {"before": b["summary"], "after": a["summary"]},
            "assessments": {"before": {k: b[k] for k in ("images", "annotations")},
                            "after": {k: a[k] for k in ("images", "annotations")}},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)


def assess_after(after: str | Path | bytes, before: Assessment, detector, *, score_thr: float | None = None,
                 max_pixels: int | None = None, hint: np.ndarray | None = None,
                 name: str | None = None) -> tuple[Assessment, Registration]:
    """Register AFTER onto BEFORE, then detect AFTER's lesions on its copy warped into
    BEFORE's frame (so the detector sees the face at the scale and framing it saw BEFORE at:
    its working scale follows the frame, and a face that fills more or less of the frame
    would otherwise be detected at another scale) and map them back to AFTER's own pixels.
    Lesions of AFTER outside BEFORE's frame are therefore not detected (they could not be
    compared anyway)."""
    from acnekit.assess import _model_info, load_photo

    thr = check_score_thr(score_thr)
    label = name or (str(after) if not isinstance(after, (bytes, bytearray)) else "upload")
    rgb = load_photo(after, name=label, max_pixels=max_pixels)
    h, w = rgb.shape[:2]
    reg = register(before.rgb, rgb, hint=hint)
    warped = warp_after(rgb, reg.matrix, (before.height, before.width))
    found = detector.predict(warped, score_thr=thr)
    inv = np.linalg.inv(np.vstack([reg.matrix, [0, 0, 1]]))[:2]
    circles = Circles(apply(inv, found.xy), found.radius / reg.scale, found.score, found.class_name)
    circles = circles[circles.inside(w, h)]
    used_thr = detector.score_threshold if thr is None else thr
    bs = before.summary
    ppm = bs["scale"]["px_per_mm"]
    scale = Scale(ppm / reg.scale, "registered") if ppm is not None else Scale()
    summary = summarise(circles, w, h, scale=scale, bands=bs["grade"]["bands"], model=_model_info(detector, used_thr))
    if ppm is not None:
        summary["scale"]["note"] = REGISTERED_SCALE_NOTE
    summary["detected_on"] = DETECTED_ON_NOTE
    base = Path(label.replace("\\", "/")).name
    return Assessment(base if base not in ("", ".", "..") else "upload", w, h, circles, summary, rgb), reg


def split_faint(a: Assessment, op_thr: float, model: dict[str, Any]) -> Circles:
    """Keep ``a``'s lesions scoring at least ``op_thr`` (re-summarised, keeping its scale) and
    return the faint rest."""
    c = a.circles
    if c.score is None:
        return Circles.empty(with_score=True)
    keep = c.score >= op_thr
    old = a.summary
    ppm = old["scale"]["px_per_mm"]
    a.circles = c[keep]
    a.summary = summarise(a.circles, a.width, a.height, px_per_mm=ppm, bands=old["grade"]["bands"], model=model)
    a.summary["scale"] = old["scale"]
    if "detected_on" in old:
        a.summary["detected_on"] = old["detected_on"]
    return c[~keep]


def compare_photos(before: str | Path | bytes, after: str | Path | bytes, detector, *,
                   px_per_mm: float | None = None, ruler: Any = None, score_thr: float | None = None,
                   faint_factor: float | None = FAINT_FACTOR, max_pixels: int | None = None,
                   hint: np.ndarray | None = None, names: tuple[str | None, str | None] = (None, None)) -> Comparison:
    """Assess BEFORE with ``detector``, register AFTER onto it (raises
    `acnekit.compare.register.RegistrationError` when they cannot be), assess AFTER in
    BEFORE's frame (`assess_after`), match the lesions.

    Each photo is detected once, down to the faint threshold ``faint_factor`` x the
    operating threshold; the assessments keep the lesions at or above the operating
    threshold, and the faint ones only stop a wavering lesion from counting as new or
    resolved (see `acnekit.compare.match`). ``faint_factor=None``: no hysteresis."""
    import time

    from acnekit.assess import _model_info

    thr = check_score_thr(score_thr)
    op = float(detector.score_threshold if thr is None else thr)
    low = op * faint_factor if faint_factor else op
    model = _model_info(detector, op)
    t0 = time.perf_counter()
    ab = assess_photo(before, detector, px_per_mm=px_per_mm, ruler=ruler, score_thr=low,
                      max_pixels=max_pixels, name=names[0])
    faint_b = split_faint(ab, op, model)
    t1 = time.perf_counter()
    aa, reg = assess_after(after, ab, detector, score_thr=low, max_pixels=max_pixels, hint=hint,
                           name=names[1])
    faint_a = split_faint(aa, op, model)
    t2 = time.perf_counter()
    support = reg.support(SUPPORT_MARGIN * max(ab.width, ab.height))
    body = compare_lesions(ab.to_dict(), aa.to_dict(), reg.matrix, px_per_mm=ab.summary["scale"]["px_per_mm"],
                           median_error_px=reg.median_error_px, faint=(faint_b, faint_a) if faint_factor else None,
                           support=support)
    body["hysteresis"] = {"operating_threshold": op, "faint_threshold": low if faint_factor else None,
                          "faint": {"before": len(faint_b), "after": len(faint_a)}}
    t3 = time.perf_counter()
    return Comparison(ab, aa, reg, body, {"before": t1 - t0, "after": t2 - t1, "match": t3 - t2})
