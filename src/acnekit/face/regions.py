"""Face regions (as in GAGS): forehead, left and right cheek, nose, chin.

Each region is a set of anchor landmarks of the MediaPipe face mesh; a point of the skin mask
belongs to the region of its nearest anchor (a Voronoi partition of the skin by the anchors,
so it follows the face's pose and framing). ``left``/``right`` are the subject's own sides,
as a clinician names them: the subject's left cheek appears on the right of an unmirrored
photo. A region counts as shown when it holds at least `MIN_SHARE` of the skin area (the far
cheek of a side view does not).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from acnekit.face.mask import SkinMask

NAMES = ("forehead", "left_cheek", "right_cheek", "nose", "chin")
MIN_SHARE = 0.03
ANCHORS: dict[str, tuple[int, ...]] = {
    "forehead": (10, 151, 9, 108, 337, 67, 297, 109, 338, 69, 299, 104, 333, 103, 332, 54, 284, 21, 251, 68, 298,
                 71, 301),
    # the subject's right cheek: the photo's left (MediaPipe's "right" landmarks, e.g. eye 33)
    "right_cheek": (50, 101, 118, 117, 123, 187, 205, 36, 203, 206, 216, 207, 147, 116, 234, 93, 132, 137, 177, 215,
                    213, 192),
    "left_cheek": (280, 330, 347, 346, 352, 411, 425, 266, 423, 426, 436, 427, 376, 345, 454, 323, 361, 366, 401, 435,
                   433, 416),
    "nose": (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 45, 275, 48, 278, 64, 294, 98, 327, 115, 344, 220, 440, 51, 281,
             3, 248, 196, 419, 174, 399, 122, 351),
    "chin": (152, 148, 377, 175, 199, 200, 18, 171, 396, 208, 428, 176, 400, 140, 369, 32, 262, 201, 421, 83, 313,
             182, 406),
}


def anchor_table() -> tuple[np.ndarray, np.ndarray]:
    """(indices (m,), region number (m,)) over all anchors."""
    idx, lab = [], []
    for k, name in enumerate(NAMES):
        idx += ANCHORS[name]
        lab += [k] * len(ANCHORS[name])
    return np.array(idx), np.array(lab)


def label_points(mesh_xy: np.ndarray, xy: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """(n,) region numbers (indices into `NAMES`) of photo points ``xy`` (n, 2)."""
    idx, lab = anchor_table()
    return nearest_label(np.asarray(mesh_xy, dtype=np.float64)[idx], lab, xy, chunk)


def nearest_label(anchors: np.ndarray, lab: np.ndarray, xy: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """(n,) the label ``lab`` (m,) of the anchor (m, 2) nearest to each point ``xy`` (n, 2); on a
    tie the first anchor in order wins."""
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    out = np.empty(len(xy), dtype=np.int64)
    for s in range(0, len(xy), chunk):
        d = ((xy[s:s + chunk, None, :] - anchors[None]) ** 2).sum(-1)
        out[s:s + chunk] = lab[d.argmin(axis=1)]
    return out


def region_areas(mesh_xy: np.ndarray | Callable[[np.ndarray], np.ndarray], mask: SkinMask,
                 step: int = 4) -> dict[str, float]:
    """Skin area (photo px^2) of each region: the mask's grid cells, every ``step``-th cell on
    each axis labelled (each standing for step^2 cells), the total kept exact. ``mesh_xy``: the
    mesh (468, 2), or a function giving the region numbers of (n, 2) points."""
    label = mesh_xy if callable(mesh_xy) else (lambda p: label_points(mesh_xy, p))
    i, j = np.nonzero(mask.grid[::step, ::step])
    centres = np.stack([(j * step + step / 2) / mask.k, (i * step + step / 2) / mask.k], axis=1)
    counts = np.bincount(label(centres), minlength=len(NAMES)).astype(np.float64)
    total = mask.area_px2()
    counts *= total / counts.sum() if counts.sum() else 0.0
    return {n: float(c) for n, c in zip(NAMES, counts)}


def shown(areas: dict[str, float]) -> list[str]:
    total = sum(areas.values())
    return [n for n in NAMES if total > 0 and areas.get(n, 0.0) >= MIN_SHARE * total]


def region_summary(radius: np.ndarray, labels: list[str | None], skin_px2: dict[str, float],
                   px_per_mm: float | None) -> dict[str, dict[str, Any]]:
    """Per shown region: lesion count, lesion area (mm^2 when scaled, else px^2), skin area
    (cm^2 when scaled, else px^2) and lesions per cm^2 (when scaled). ``radius`` and
    ``labels`` are those of the counted lesions; ``skin_px2`` the regions' skin areas."""
    out: dict[str, dict[str, Any]] = {}
    r = np.asarray(radius, dtype=np.float64)
    lab = np.array([x if x is not None else "" for x in labels], dtype=object)
    for name in shown(skin_px2) or [n for n in NAMES if n in set(labels)]:
        sel = lab == name
        n = int(sel.sum())
        area_px = float(np.sum(np.pi * r[sel] ** 2))
        skin = skin_px2.get(name, 0.0)
        row: dict[str, Any] = {"count": n}
        if px_per_mm:
            cm2 = skin / px_per_mm**2 / 100.0
            row.update(area_mm2=area_px / px_per_mm**2, skin_area_cm2=cm2, per_cm2=n / cm2 if cm2 > 0 else None)
        else:
            row.update(area_px2=area_px, skin_area_px2=skin, skin_area_cm2=None, per_cm2=None)
        out[name] = row
    return out
