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
from acnekit.compare.register import (Registration, RegistrationError, apply, fit_similarity, match_features, register,
                                      warp_after)
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


def landmark_hint(before_face, after_face) -> np.ndarray | None:
    """AFTER -> BEFORE similarity fitted on the two photos' 468 face-mesh points (the mesh
    indices correspond); None without a face in both."""
    if before_face is None or after_face is None:
        return None
    return fit_similarity(after_face.xy, before_face.xy)


def register_visits(before: Assessment, after_rgb: np.ndarray, after_face, *, hint: np.ndarray | None = None,
                    landmarks: bool = True) -> Registration:
    """`register` AFTER onto BEFORE. A ``hint`` given is used as is (and recorded as
    ``landmarks+texture``). Otherwise the texture fit is made (its failure refuses the pair:
    landmarks never register photos the skin texture does not); then, with a face in both
    photos and ``landmarks``, the landmark similarity seeds a second fit on the same
    keypoint matches (only matches near where the seed puts them, then grown to every match
    the fit agrees with), and the fit with more RANSAC inliers is kept; ``hint_note`` says
    why the seeded one was not."""
    if hint is not None:
        return register(before.rgb, after_rgb, hint=hint)
    seed = landmark_hint(getattr(before, "landmarks", None), after_face) if landmarks else None
    mt = match_features(before.rgb, after_rgb)
    reg = register(before.rgb, after_rgb, matches=mt)
    if seed is None:
        reg.hint_note = ("landmark seed off" if not landmarks else
                         "no face-landmark seed: a face was not found in both photos")
        return reg
    try:
        seeded = register(before.rgb, after_rgb, hint=seed, matches=mt)
    except RegistrationError as exc:
        reg.hint_note = f"the face-landmark seed was not confirmed by the texture ({exc}); texture alone"
        return reg
    if seeded.inliers > reg.inliers:
        return seeded
    reg.hint_note = (f"the face-landmark seeded fit had no more inliers ({seeded.inliers} vs {reg.inliers}); "
                     "texture alone")
    return reg


def assess_after(after: str | Path | bytes, before: Assessment, detector, *, score_thr: float | None = None,
                 max_pixels: int | None = None, hint: np.ndarray | None = None,
                 name: str | None = None, face: bool = True, landmarks: bool = True) -> tuple[Assessment, Registration]:
    """Find AFTER's face, register AFTER onto BEFORE (`register_visits`), then detect
    AFTER's lesions on its copy warped into BEFORE's frame (so the detector sees the face at
    the scale and framing it saw BEFORE at, with BEFORE's working scale: a face that fills
    more or less of the frame would otherwise be detected at another scale) and map them
    back to AFTER's own pixels. Lesions of AFTER outside BEFORE's frame are therefore not
    detected (they could not be compared anyway). AFTER's lesions get ``in_skin`` /
    ``region`` from AFTER's own face and ``graded`` flags, as `assess_photo` gives them."""
    from acnekit.assess import _model_info, graded_flags, load_photo
    from acnekit.face.pipeline import analyse_face, lesion_extras, not_found
    from acnekit.grading import HAYASHI_UPPER
    from acnekit.imageio import jpeg_quality

    thr = check_score_thr(score_thr)
    label = name or (str(after) if not isinstance(after, (bytes, bytearray)) else "upload")
    rgb = load_photo(after, name=label, max_pixels=max_pixels)
    h, w = rgb.shape[:2]
    fa = analyse_face(rgb) if face else not_found("face analysis off: the whole photo is assessed")
    reg = register_visits(before, rgb, fa.face, hint=hint, landmarks=landmarks)
    warped = warp_after(rgb, reg.matrix, (before.height, before.width))
    bs = before.summary
    ws = dict((bs.get("model") or {}).get("working_scale") or detector.working_scale)
    work_scale = ws.get("scale") if ws.get("rule") == "face" else None
    found = (detector.predict(warped, score_thr=thr) if work_scale is None
             else detector.predict(warped, score_thr=thr, work_scale=work_scale, source_quality=jpeg_quality(after)))
    inv = np.linalg.inv(np.vstack([reg.matrix, [0, 0, 1]]))[:2]
    circles = Circles(apply(inv, found.xy), found.radius / reg.scale, found.score, found.class_name,
                      found.graded_score)
    circles = circles[circles.inside(w, h)]
    used_thr = detector.score_threshold if thr is None else thr
    extra = lesion_extras(*fa.lesion_flags(circles.xy)) if fa.found else None
    graded = graded_flags(detector, circles)
    sc = bs["scale"]
    ppm = sc["px_per_mm"]
    scale = Scale(ppm / reg.scale, "registered") if ppm is not None else Scale()
    bands = (bs.get("count_band") or {}).get("bands") or HAYASHI_UPPER
    if ws.get("rule") == "face":
        ws = {**ws, "reason": "the before photo's working scale (this photo is detected in its frame)"}
    summary = summarise(circles, w, h, graded=graded, scale=scale, bands=bands,
                        model=_model_info(detector, used_thr, ws), lesion_extra=extra, face=fa.summary)
    if ppm is not None:
        summary["scale"]["note"] = f"{REGISTERED_SCALE_NOTE}; the before photo's scale source: {sc.get('source')}"
        summary["scale"]["before_source"] = sc.get("source")
    if fa.iris is not None and fa.iris.get("px_per_mm"):
        summary["scale"]["own_iris"] = {"px_per_mm": fa.iris["px_per_mm"], "uncertainty": fa.iris.get("uncertainty"),
                                        "note": "this photo's own iris scale (a check; not used)"}
    summary["detected_on"] = DETECTED_ON_NOTE
    base = Path(label.replace("\\", "/")).name
    return Assessment(base if base not in ("", ".", "..") else "upload", w, h, circles, summary, rgb,
                      lesion_extra=extra, skin_mask=fa.mask, graded=graded, landmarks=fa.face), reg


def split_faint(a: Assessment, op_thr: float, model: dict[str, Any]) -> Circles:
    """Keep ``a``'s lesions scoring at least ``op_thr`` (re-summarised, keeping its scale,
    face, ``in_skin`` / ``region`` and ``graded`` flags) and return the faint rest."""
    c = a.circles
    if c.score is None:
        return Circles.empty(with_score=True)
    keep = c.score >= op_thr
    old = a.summary
    a.circles = c[keep]
    if a.lesion_extra is not None:
        a.lesion_extra = [e for e, k in zip(a.lesion_extra, keep) if k]
    if a.graded is not None:
        a.graded = np.asarray(a.graded, dtype=bool)[keep]
    face = old.get("face")
    if isinstance(face, dict):
        face = {k: v for k, v in face.items() if k != "outside_skin"}
    bands = (old.get("count_band") or {}).get("bands")
    a.summary = summarise(a.circles, a.width, a.height, graded=a.graded,
                          px_per_mm=old["scale"]["px_per_mm"], model={**model, **{
                              k: v for k, v in (old.get("model") or {}).items() if k == "working_scale"}},
                          lesion_extra=a.lesion_extra, face=face, **({"bands": bands} if bands else {}))
    for k in ("scale", "detected_on", "warnings"):
        if k in old:
            a.summary[k] = old[k]
    return c[~keep]


def compare_photos(before: str | Path | bytes, after: str | Path | bytes, detector, *,
                   px_per_mm: float | None = None, ruler: Any = None, score_thr: float | None = None,
                   faint_factor: float | None = FAINT_FACTOR, max_pixels: int | None = None,
                   hint: np.ndarray | None = None, names: tuple[str | None, str | None] = (None, None),
                   landmarks: bool = True) -> Comparison:
    """Assess BEFORE with ``detector``, register AFTER onto it (raises
    `acnekit.compare.register.RegistrationError` when they cannot be), assess AFTER in
    BEFORE's frame (`assess_after`), match the lesions.

    Each photo is detected once, down to the faint threshold ``faint_factor`` x the
    operating threshold; the assessments keep the lesions at or above the operating
    threshold, and the faint ones only stop a wavering lesion from counting as new or
    resolved (see `acnekit.compare.match`). ``faint_factor=None``: no hysteresis.

    Registration (`register_visits`): ``hint`` (a 2x3 AFTER -> BEFORE matrix) when given;
    else, when both photos show a face and ``landmarks``, the face-landmark similarity seeds
    the texture fit. Lesions outside either photo's facial skin are not compared."""
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
                           name=names[1], landmarks=landmarks)
    faint_a = split_faint(aa, op, model)
    t2 = time.perf_counter()
    support = reg.support(SUPPORT_MARGIN * max(ab.width, ab.height))
    body = compare_lesions(ab.to_dict(), aa.to_dict(), reg.matrix, px_per_mm=ab.summary["scale"]["px_per_mm"],
                           median_error_px=reg.median_error_px, faint=(faint_b, faint_a) if faint_factor else None,
                           support=support, skin=(ab.skin_mask, aa.skin_mask))
    body["hysteresis"] = {"operating_threshold": op, "faint_threshold": low if faint_factor else None,
                          "faint": {"before": len(faint_b), "after": len(faint_a)}}
    t3 = time.perf_counter()
    return Comparison(ab, aa, reg, body, {"before": t1 - t0, "after": t2 - t1, "match": t3 - t2})
