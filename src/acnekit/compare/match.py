"""Match the lesions of two registered visits one-to-one and summarise the change.

AFTER's lesions are mapped into BEFORE's frame with the registration matrix (centres through
the matrix, radii times its scale). A lesion of either visit that falls outside the region
both photos show is ``outside`` (neither new nor resolved: it was not seen twice). The rest
are matched one-to-one by the Hungarian assignment (`scipy.optimize.linear_sum_assignment`)
on centre distance, each pair gated: the centres at most ``gate_px`` apart, where

    gate_px = max(RADIUS_GATE x the larger radius, MM_GATE mm (when the scale is known),
                  ERROR_GATE x the registration's median reprojection error)

Matched lesions are ``persisting``, unmatched BEFORE lesions ``resolved``, unmatched AFTER
lesions ``new``. Only counted lesions take part: annotations with ``"removed": true`` or
``"in_skin": false`` (see CONTRACT) are left out, as the assessment leaves them out.

Hysteresis (``faint``): a lesion left unmatched whose place in the other visit holds a
detection below the operating threshold (down to the faint threshold) is ``persisting``
too, with ``"faint": true``. ``counts.persisting`` counts physical lesions: linked pairs
once (``persisting_linked``) plus the faint-supported ones (``persisting_faint`` =
``persisting_faint_before`` + ``persisting_faint_after``, by the visit the lesion was counted
in). So BEFORE's lesions = persisting_linked + persisting_faint_before + resolved +
before_outside, and AFTER's = persisting_linked + persisting_faint_after + new + after_outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from acnekit.assess import counted
from acnekit.compare.register import apply

RADIUS_GATE = 1.5
MM_GATE = 1.0
ERROR_GATE = 3.0
EDGE_PX = 2.0  # a lesion centre this close to the common region's edge still counts as inside
FORBIDDEN = 1e6


@dataclass
class Lesions:
    """The counted lesions of one assessment: annotation ids, centres, radii, graded flags
    (None when the assessment has no ``graded`` field)."""

    ids: np.ndarray
    xy: np.ndarray
    radius: np.ndarray
    graded: np.ndarray | None

    def __len__(self) -> int:
        return len(self.ids)


def not_counted(assessment: dict[str, Any]) -> list[tuple[int, str]]:
    """(id, reason) of the annotations the assessment does not count."""
    return [(int(a["id"]), "removed" if a.get("removed", False) else "outside_skin")
            for a in assessment.get("annotations", []) if not counted(a)]


def lesions(assessment: dict[str, Any]) -> Lesions:
    anns = [a for a in assessment.get("annotations", []) if counted(a)]
    ids = np.array([a["id"] for a in anns], dtype=np.int64)
    xy = np.array([a["coordinates"] for a in anns], dtype=np.float64).reshape(-1, 2)
    r = np.array([a["radius"] for a in anns], dtype=np.float64)
    has = any("graded" in a for a in anns) or any("graded" in a for a in assessment.get("annotations", []))
    graded = np.array([bool(a.get("graded", False)) for a in anns], dtype=bool) if has else None
    return Lesions(ids, xy, r, graded)


def match_circles(xy_a: np.ndarray, r_a: np.ndarray, xy_b: np.ndarray, r_b: np.ndarray,
          floor_px: float = 0.0) -> list[tuple[int, int, float]]:
    """One-to-one pairs ``(i, j, distance)`` between circles a (n) and b (m), both in one
    frame; pair (i, j) allowed when its distance is at most max(RADIUS_GATE x max(r_a[i],
    r_b[j]), floor_px). Minimises the sum of distance / gate over the allowed pairs."""
    from scipy.optimize import linear_sum_assignment

    xy_a, xy_b = np.asarray(xy_a, float).reshape(-1, 2), np.asarray(xy_b, float).reshape(-1, 2)
    if len(xy_a) == 0 or len(xy_b) == 0:
        return []
    d = np.linalg.norm(xy_a[:, None, :] - xy_b[None, :, :], axis=2)
    gate = np.maximum(RADIUS_GATE * np.maximum(np.asarray(r_a, float)[:, None], np.asarray(r_b, float)[None, :]),
                      floor_px)
    cost = d / np.maximum(gate, 1e-9)
    cost = np.where(cost <= 1.0, cost, FORBIDDEN)
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j), float(d[i, j])) for i, j in zip(rows, cols) if cost[i, j] <= 1.0]


def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import cv2

    a, b = _ccw(a.astype(np.float32)), _ccw(b.astype(np.float32))
    area, poly = cv2.intersectConvexConvex(a, b)
    return np.zeros((0, 2)) if poly is None or area <= 0 else poly.reshape(-1, 2).astype(np.float64)


def _ccw(poly: np.ndarray) -> np.ndarray:
    x, y = poly[:, 0], poly[:, 1]
    signed = np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))
    return poly if signed >= 0 else poly[::-1].copy()


def common_polygon(matrix: np.ndarray, before_hw: tuple[int, int], after_hw: tuple[int, int],
                   support: np.ndarray | None = None) -> np.ndarray:
    """The region both photos show, in BEFORE's pixels: BEFORE's frame intersected with the
    warped AFTER frame and, when given, the ``support`` polygon (where the registration's
    inliers lie: a face turned between the photos fits one transform on part of it only);
    a convex polygon (k, 2)."""
    poly = _frames(matrix, before_hw, after_hw)
    if support is not None and len(poly) >= 3 and len(support) >= 3:
        poly = _intersect(poly, np.asarray(support, dtype=np.float64))
    return poly


def _frames(matrix: np.ndarray, before_hw: tuple[int, int], after_hw: tuple[int, int]) -> np.ndarray:
    hb, wb = before_hw
    ha, wa = after_hw
    rect = np.array([[0, 0], [wb, 0], [wb, hb], [0, hb]], dtype=np.float64)
    quad = apply(matrix, np.array([[0, 0], [wa, 0], [wa, ha], [0, ha]], dtype=np.float64))
    return _intersect(rect, quad)


def polygon_area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def inside(poly: np.ndarray, xy: np.ndarray, margin: float = EDGE_PX) -> np.ndarray:
    """(n,) bool: points inside the convex polygon (or within ``margin`` px of it)."""
    import cv2

    if len(poly) < 3:
        return np.zeros(len(xy), dtype=bool)
    contour = poly.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -margin for x, y in xy], dtype=bool)


def _change(before: float | None, after: float | None) -> dict[str, Any]:
    if before is None or after is None:
        return {"before": before, "after": after, "change": None, "percent": None}
    pct = None if before == 0 else 100.0 * (after - before) / before
    return {"before": before, "after": after, "change": after - before, "percent": pct}


def _get(assessment: dict[str, Any], *keys: str) -> Any:
    v: Any = assessment.get("summary")
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    return v


def _grade_change(before: dict[str, Any], after: dict[str, Any], key: str) -> dict[str, Any] | None:
    """Each photo's own whole-photo grade (``summary.grade``: the reference grade on the graded
    counted lesions; ``summary.count_band``: the Hayashi band on all counted lesions)."""
    gb, ga = _get(before, key), _get(after, key)
    if not isinstance(gb, dict) and not isinstance(ga, dict):
        return None
    gb, ga = gb or {}, ga or {}
    out = {"before": gb.get("name"), "after": ga.get("name"),
           **{f"grade_{w}": g.get("grade") for w, g in (("before", gb), ("after", ga))},
           "change": None if gb.get("grade") is None or ga.get("grade") is None else ga["grade"] - gb["grade"],
           "count": _change(gb.get("count"), ga.get("count")),
           "note": "each photo's own, whole photo, counted lesions"
                   + (" the reference grade counts (graded)" if key == "grade" else " (Hayashi count band)")}
    if key == "grade":
        out["probabilities"] = {"before": gb.get("probabilities"), "after": ga.get("probabilities")}
    return out


def _scale_change(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    sb, sa = _get(before, "scale") or {}, _get(after, "scale") or {}
    return {"before": {"px_per_mm": sb.get("px_per_mm"), "source": sb.get("source"),
                       "uncertainty": sb.get("uncertainty")},
            "after": {"px_per_mm": sa.get("px_per_mm"), "source": sa.get("source"),
                      "from": sa.get("before_source"), "own_iris": sa.get("own_iris")},
            "mm": sb.get("px_per_mm") is not None,
            "note": "mm figures use the before photo's scale; the after photo's is the before's divided by the "
                    "registration's scale (source registered)" if sb.get("px_per_mm") is not None
                    else "no scale for the before photo: figures in pixels"}


def skin_area(poly: np.ndarray, before_hw: tuple[int, int], mask_b: Any, mask_a: Any, inv: np.ndarray,
              cells: int = 256) -> float:
    """Area (BEFORE px^2) of the convex polygon ``poly`` that is skin in both photos, on a grid
    of ``cells`` cells along BEFORE's long side (``inv``: BEFORE px -> AFTER px)."""
    import cv2

    hb, wb = before_hw
    if len(poly) < 3:
        return 0.0
    k = cells / max(hb, wb)
    gh, gw = max(1, round(hb * k)), max(1, round(wb * k))
    grid = np.zeros((gh, gw), np.uint8)
    cv2.fillConvexPoly(grid, np.round(poly * k).astype(np.int32), 1)
    ii, jj = np.nonzero(grid)
    xy = np.column_stack([(jj + 0.5) / k, (ii + 0.5) / k])
    ok = mask_b.inside(xy) & mask_a.inside(apply(inv, xy))
    return float(ok.sum()) / k**2


def _supported(xy: np.ndarray, r: np.ndarray, faint_xy: np.ndarray, faint_r: np.ndarray,
               floor: float) -> np.ndarray:
    """(n,) bool: a faint detection of the other visit lies within the pair gate."""
    if len(xy) == 0 or len(faint_xy) == 0:
        return np.zeros(len(xy), dtype=bool)
    d = np.linalg.norm(xy[:, None, :] - faint_xy[None, :, :], axis=2)
    gate = np.maximum(RADIUS_GATE * np.maximum(r[:, None], faint_r[None, :]), floor)
    return (d <= gate).any(axis=1)


def compare_lesions(before: dict[str, Any], after: dict[str, Any], matrix: np.ndarray, *,
                    px_per_mm: float | None = None, median_error_px: float = 0.0,
                    faint: tuple[Any, Any] | None = None, support: np.ndarray | None = None,
                    skin: tuple[Any, Any] | None = None, outside_ids: tuple[Any, Any] | None = None,
                    faint_ids: tuple[Any, Any] | None = None, skin_area_px2: float | None = None) -> dict[str, Any]:
    """The comparison body (``counts``, ``links``, ``lesions``, ``changes``, ``gate``,
    ``common_region``) of two assessment dicts, AFTER registered onto BEFORE by ``matrix``
    (2x3, AFTER px -> BEFORE px). ``px_per_mm`` is BEFORE's scale. No I/O.

    ``support``: optional polygon (BEFORE px) where the registration holds (see
    `Registration.support`); the common region is cut to it.

    ``skin``: optional ``(before, after)`` facial-skin masks (`acnekit.face.mask.SkinMask`,
    each in its photo's pixels, None where no face); when both are given, lesions are
    compared only where both photos show skin, and the density's area is that skin.

    ``faint``: optional ``(before, after)`` `Circles` found below the operating threshold
    (down to the faint threshold), in each photo's own pixels. An unmatched lesion with a
    faint detection of the other visit at its place is ``persisting`` (``"faint": true``,
    no link) rather than resolved or new: hysteresis, so a lesion whose score wavers around
    the threshold between two photos is not reported as a change.

    Re-matching a corrected comparison (no photos, so no masks nor faint detections):
    ``outside_ids`` = ``(before ids, after ids)`` of lesions kept ``outside`` (e.g. off the
    skin of the other photo in the first comparison); ``faint_ids`` = ``(before ids, after
    ids)`` of lesions a faint detection supports (used in place of ``faint``);
    ``skin_area_px2`` = the common skin area (for the density) when ``skin`` is not given."""
    matrix = np.asarray(matrix, dtype=np.float64)
    s = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    ib, ia = before["images"][0], after["images"][0]
    before_hw, after_hw = (int(ib["height"]), int(ib["width"])), (int(ia["height"]), int(ia["width"]))
    lb, la = lesions(before), lesions(after)
    xy_a = apply(matrix, la.xy)
    r_a = la.radius * s
    poly = common_polygon(matrix, before_hw, after_hw, support)
    in_b, in_a = inside(poly, lb.xy), inside(poly, xy_a)
    inv = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    mask_b, mask_a = skin if skin is not None else (None, None)
    on_skin = mask_b is not None and mask_a is not None
    if on_skin:
        in_b &= mask_a.inside(apply(inv, lb.xy))
        in_a &= mask_b.inside(xy_a)
    if outside_ids is not None:
        in_b &= ~np.isin(lb.ids, np.fromiter(outside_ids[0], dtype=np.int64))
        in_a &= ~np.isin(la.ids, np.fromiter(outside_ids[1], dtype=np.int64))
    floor = max(ERROR_GATE * median_error_px, MM_GATE * px_per_mm if px_per_mm else 0.0)
    ib_idx, ia_idx = np.flatnonzero(in_b), np.flatnonzero(in_a)
    pairs = [(ib_idx[i], ia_idx[j], d) for i, j, d in match_circles(lb.xy[in_b], lb.radius[in_b], xy_a[in_a], r_a[in_a], floor)]
    b_match = {i: (j, d) for i, j, d in pairs}
    a_match = {j: i for i, j, _ in pairs}
    fb = np.zeros(len(lb), dtype=bool)  # before lesions kept as persisting by a faint AFTER detection
    fa = np.zeros(len(la), dtype=bool)
    if faint is not None:
        f_b, f_a = faint
        fxy_a, fr_a = apply(matrix, f_a.xy), f_a.radius * s
        free_b = in_b & ~np.isin(np.arange(len(lb)), list(b_match))
        free_a = in_a & ~np.isin(np.arange(len(la)), list(a_match))
        fb[free_b] = _supported(lb.xy[free_b], lb.radius[free_b], fxy_a, fr_a, floor)
        fa[free_a] = _supported(xy_a[free_a], r_a[free_a], f_b.xy, f_b.radius, floor)
    elif faint_ids is not None:
        fb = in_b & ~np.isin(np.arange(len(lb)), list(b_match)) & np.isin(
            lb.ids, np.fromiter(faint_ids[0], dtype=np.int64))
        fa = in_a & ~np.isin(np.arange(len(la)), list(a_match)) & np.isin(
            la.ids, np.fromiter(faint_ids[1], dtype=np.int64))

    def mm(v: float, power: int = 1) -> float | None:
        return None if not px_per_mm else v / px_per_mm**power

    links = [{"before": int(lb.ids[i]), "after": int(la.ids[j]), "distance_px": d, "distance_mm": mm(d),
              "radius_before_px": float(lb.radius[i]), "radius_after_px": float(r_a[j])} for i, j, d in pairs]
    def status(i: int, matched: dict, kept: np.ndarray, inside_: np.ndarray, gone: str) -> str:
        return "persisting" if i in matched or kept[i] else (gone if inside_[i] else "outside")

    before_rows = [{"id": int(lb.ids[i]), "status": status(i, b_match, fb, in_b, "resolved"),
                    "match": int(la.ids[b_match[i][0]]) if i in b_match else None, "faint": bool(fb[i])}
                   for i in range(len(lb))]
    after_rows = [{"id": int(la.ids[j]), "status": status(j, a_match, fa, in_a, "new"),
                   "match": int(lb.ids[a_match[j]]) if j in a_match else None, "faint": bool(fa[j]),
                   "coordinates_in_before": [float(xy_a[j, 0]), float(xy_a[j, 1])], "radius_in_before": float(r_a[j])}
                  for j in range(len(la))]
    before_rows += [{"id": i, "status": "outside", "match": None, "faint": False, "counted": False, "reason": why}
                    for i, why in not_counted(before)]
    a_ann = {int(a["id"]): a for a in after.get("annotations", [])}

    def in_before(j: int) -> dict[str, Any]:
        xy = apply(matrix, np.asarray(a_ann[j]["coordinates"], dtype=np.float64))[0]
        return {"coordinates_in_before": [float(xy[0]), float(xy[1])],
                "radius_in_before": float(a_ann[j]["radius"]) * s}

    after_rows += [{"id": j, "status": "outside", "match": None, "faint": False, "counted": False, "reason": why,
                    **in_before(j)} for j, why in not_counted(after)]
    n_fb, n_fa = int(fb.sum()), int(fa.sum())
    counts = {"before": len(lb), "after": len(la), "persisting": len(pairs) + n_fb + n_fa,
              "new": int(in_a.sum()) - len(pairs) - n_fa, "resolved": int(in_b.sum()) - len(pairs) - n_fb,
              "before_outside": int((~in_b).sum()), "after_outside": int((~in_a).sum()),
              "persisting_linked": len(pairs), "persisting_faint": n_fb + n_fa,
              "persisting_faint_before": n_fb, "persisting_faint_after": n_fa,
              "before_not_counted": len(not_counted(before)), "after_not_counted": len(not_counted(after))}
    area_poly = polygon_area(poly)
    area_common = skin_area(poly, before_hw, mask_b, mask_a, inv) if on_skin else area_poly
    if not on_skin and skin_area_px2 is not None:
        on_skin, area_common = True, float(skin_area_px2)
    n_b, n_a = int(in_b.sum()), int(in_a.sum())
    area_b = float(np.sum(np.pi * lb.radius[in_b] ** 2))
    area_a = float(np.sum(np.pi * r_a[in_a] ** 2))
    if px_per_mm:
        cm2 = area_common / px_per_mm**2 / 100.0
        density = {"unit": "lesions per cm2",
                   **_change(n_b / cm2 if cm2 else None, n_a / cm2 if cm2 else None)}
    else:
        mpx = area_common / 1e6
        density = {"unit": "lesions per megapixel of the before photo",
                   **_change(n_b / mpx if mpx else None, n_a / mpx if mpx else None)}
    changes = {
        "region": "the region both photos show where the registration has support"
                  + (", on facial skin in both photos" if on_skin else "") + " (lesions outside it are left out)",
        "count": _change(n_b, n_a),
        "graded_count": _change(None if lb.graded is None else int(lb.graded[in_b].sum()),
                                None if la.graded is None else int(la.graded[in_a].sum())),
        "area_px2": _change(area_b, area_a),
        "area_mm2": _change(mm(area_b, 2), mm(area_a, 2)),
        "density": density,
        # whole-photo figures from each assessment's own summary
        "severity_score": _change(_get(before, "severity", "score"), _get(after, "severity", "score")),
        "grade": _change(_get(before, "grade", "grade"), _get(after, "grade", "grade")),
        "whole_photo_count": _change(_get(before, "count"), _get(after, "count")),
        "reference_grade": _grade_change(before, after, "grade"),
        "count_band": _grade_change(before, after, "count_band"),
        "scale": _scale_change(before, after),
    }
    return {
        "counts": counts,
        "links": links,
        "lesions": {"before": before_rows, "after": after_rows},
        "changes": changes,
        "gate": {"radius_factor": RADIUS_GATE, "mm": MM_GATE if px_per_mm else None,
                 "error_factor": ERROR_GATE, "floor_px": floor},
        "common_region": {"polygon": [[float(x), float(y)] for x, y in poly], "area_px2": area_poly,
                          "share_of_before": area_poly / (before_hw[0] * before_hw[1]),
                          "skin_area_px2": area_common if on_skin else None},
    }
