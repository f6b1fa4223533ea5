"""Framing-invariant working scale: resize the photo so the face has the size it had in the
detector's training photos, whatever the framing (background, distance, resolution).

Face size is `Face.size_px` (RMS 3D distance of the 468 mesh points to their centroid, so it
barely depends on head yaw). `TRAIN_FACE_PX` = 167.7 px is its median over the 745 of 783
training photos (acne04-640/train.txt) where a face was found, each measured on the 640x640
copy restored to the original aspect ratio at the same area (e.g. 607x674 for a 3112x3456
original): exactly the working image today's area rule gives the originals. p10-p90:
153.8-182.4 px. Measured by ``bench/bench_face.py --train-face-size`` (2026-11-30, with the
settled mesh ROI of `landmarks.settle_roi`; 166.4 px with the former fixed 3 mesh passes). A model card may override it with
``working_scale.face_size_px``.

Optionally (`SNAP`, off by default) the area rule's scale is kept when it already puts the
face within SNAP of that size (``snapped: true``).
Without a face the area rule applies (``rule: "area"`` with the reason). When the face rule
enlarges the photo by more than `UPSAMPLE_WARN`, the record carries ``low_resolution: true``
and a ``resolution_note`` (assessment repeats it in ``summary.warnings``).
"""

from __future__ import annotations

import math
from typing import Any

TRAIN_FACE_PX = 167.7
MAX_AREA_FACTOR = 16.0  # the face rule may change the working area at most this much vs the area rule
# when the area rule already gives the face within this share of its training size, its scale is
# kept. Off (0): a 10% snap keeps near today's results on photos framed like the training photos
# (val AP50 / count MAE at 640 with the mask: 0.3956 / 8.93 snapped, 0.3907 / 8.73 unsnapped,
# 0.3998 / 8.77 today without face or mask) but
# breaks framing invariance near the edge of the band (the detector's count moves by ~20% for a
# 10% scale change: a half-size fullres photo gave 24 lesions snapped, 16 when padded by 25%).
SNAP = 0.0
# The face rule enlarges a photo whose face has fewer pixels than the training faces; beyond
# this factor counts measurably drop (lesions of 1-3 px radius at the training scale are not
# resolved by the photo, and enlarging cannot restore them), so the record says so
# (``low_resolution: true`` with ``resolution_note``) and assessment adds a warning. Measured
# on val photos downscaled by 0.9 ... 0.5 (two samples of 29 photos, 2026-11-30; the second is
# ``bench/bench_face.py --upsampling 30``), total count against the originals' at a median
# enlargement of about 1.13x: 1.000 / 0.921, 1.28x: 0.955 / 0.948, 1.45x: 0.908 / 0.846,
# 1.70x: 0.813 / 0.775, 2.03x: 0.690 / 0.615. Below 1.3x the loss is about 5% or less and
# within the count's noise; beyond it the loss is 10-40%.
UPSAMPLE_WARN = 1.3


def resolution_note(scale: float) -> str:
    """The warning for a photo the face rule enlarges ``scale`` times (at most 300 characters,
    the web service's limit for a warning)."""
    return (f"the photo was enlarged {scale:.2f}x to give the face the size the detector was trained "
            f"on: it shows the face with fewer pixels than the training photos, so small lesions may "
            f"be missed and the count may be low; a closer or sharper photo counts more reliably")


def face_working_scale(face_size_px: float | None, width: int, height: int, card_ws: dict[str, Any],
                       reason: str = "no face found") -> tuple[float | None, dict[str, Any]]:
    """(working pixels per photo pixel, or None for the area rule; the
    ``summary.model.working_scale`` record)."""
    ws = dict(card_ws)
    if face_size_px is None or face_size_px <= 0:
        ws.update(rule="area", reason=f"{reason}: the photo is resized to a fixed area")
        return None, ws
    target = float(card_ws.get("face_size_px", TRAIN_FACE_PX))
    s = target / face_size_px
    area_s = math.sqrt(float(card_ws.get("area", 640 * 640)) / (width * height))
    lo, hi = area_s / math.sqrt(MAX_AREA_FACTOR), area_s * math.sqrt(MAX_AREA_FACTOR)
    clamped = min(max(s, lo), hi)
    snapped = SNAP > 0 and abs(math.log(s / area_s)) <= math.log1p(SNAP)
    ws.update(rule="face", face_size_px=face_size_px, target_face_px=target,
              scale=area_s if snapped else clamped, area_rule_scale=area_s, snapped=snapped,
              reason="face found: the photo is resized so the face has its training size"
                     + (f" (within {SNAP:.0%} at the area rule's scale: that scale is kept)" if snapped else ""))
    if snapped:
        return area_s, ws
    if clamped != s:
        ws["reason"] += f" (clamped from {s:.4g}: at most {MAX_AREA_FACTOR:g}x the area rule's area)"
    ws["low_resolution"] = clamped > UPSAMPLE_WARN
    if ws["low_resolution"]:
        ws["resolution_note"] = resolution_note(clamped)
    return clamped, ws
