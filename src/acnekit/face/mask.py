"""The facial-skin mask from face-mesh landmarks: the face (the convex hull of the 468 mesh
points, whose upper rim is raised to take in the upper forehead: the mesh itself ends below
the hairline; it ends at the jaw) minus the
eyes (their contour widened by `EYE_MARGIN` to take in the lid margins), the eyebrows, the
lips and the nostrils. Hair and background lie outside.

Polygons are lists of MediaPipe mesh indices (from MediaPipe's ``face_mesh_connections``,
Apache-2.0). `face_polygon` and `holes` give the outline and the parts that are not skin;
`rasterise` fills them on a grid of at most `GRID_SIDE` pixels on the long side, and
`SkinMask.inside` tells whether photo points fall on skin. Assessment builds its mask through
`acnekit.face.geometry` (the same polygons rounded as the assessment JSON carries them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

GRID_SIDE = 512
EYE_MARGIN = 1.35  # eye polygons are scaled about their centroid by this
EYES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
)
BROWS = (
    (70, 63, 105, 66, 107, 55, 65, 52, 53, 46),
    (300, 293, 334, 296, 336, 285, 295, 282, 283, 276),
)
LIPS = ((61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185),)
NOSTRILS = ((2, 97, 98, 64), (2, 326, 327, 294))
# the mesh stops short of the hairline: its upper rim is pushed up the face by this share of
# the rim-to-glabella distance (landmark 10 to 168), so the upper forehead counts as skin
UPPER_RIM = (54, 103, 67, 109, 10, 338, 297, 332, 284)
FOREHEAD_EXTRA = 0.6
# the mesh fits the near cheek and jaw of ~70 degree side views loosely, and jawline lesions
# run onto the upper neck: the face is widened by MARGIN x face height (10 to 152) all round
# and its lower rim lowered by JAW_EXTRA x face height (chosen on val, see bench/bench_face.py)
MARGIN = 0.12
JAW_EXTRA = 0.25
LOWER_RIM = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)


@dataclass
class SkinMask:
    """A boolean grid; grid cell (i, j) covers photo pixels [j / k, (j + 1) / k) x [i / k, ...)."""

    grid: np.ndarray
    k: float  # grid cells per photo pixel

    def inside(self, xy: np.ndarray) -> np.ndarray:
        """(n,) bool: photo points (n, 2) that fall on skin."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        h, w = self.grid.shape
        j = np.floor(xy[:, 0] * self.k).astype(np.int64)
        i = np.floor(xy[:, 1] * self.k).astype(np.int64)
        ok = (i >= 0) & (i < h) & (j >= 0) & (j < w)
        out = np.zeros(len(xy), dtype=bool)
        out[ok] = self.grid[i[ok], j[ok]]
        return out

    def area_px2(self) -> float:
        """Skin area in photo pixels squared."""
        return float(self.grid.sum()) / self.k**2


def convex_hull(xy: np.ndarray) -> np.ndarray:
    """Monotone-chain convex hull of (n, 2) points, counter-clockwise, (m, 2)."""
    pts = np.unique(np.asarray(xy, dtype=np.float64), axis=0)
    if len(pts) < 3:
        return pts

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(points):
        out: list[tuple[float, float]] = []
        for p in map(tuple, points):
            while len(out) >= 2 and cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _scaled(poly: np.ndarray, k: float) -> np.ndarray:
    c = poly.mean(axis=0)
    return c + (poly - c) * k


def holes(xy: np.ndarray) -> list[np.ndarray]:
    """The non-skin polygons (photo pixels) of a mesh ``xy`` (468, 2)."""
    out = [_scaled(xy[list(p)], EYE_MARGIN) for p in EYES]
    out += [xy[list(p)] for p in BROWS + LIPS + NOSTRILS]
    return out


def rasterise(polygons_in: list[np.ndarray], polygons_out: list[np.ndarray], width: int, height: int,
              grid_side: int = GRID_SIDE) -> SkinMask:
    """Union of ``polygons_in`` minus union of ``polygons_out`` (photo pixels) on a grid."""
    k = min(1.0, grid_side / max(width, height))
    gw, gh = max(1, round(width * k)), max(1, round(height * k))
    img = Image.new("1", (gw, gh), 0)
    d = ImageDraw.Draw(img)
    for p in polygons_in:
        d.polygon([tuple(q) for q in (p * k)], fill=1)
    for p in polygons_out:
        d.polygon([tuple(q) for q in (p * k)], fill=0)
    return SkinMask(np.asarray(img, dtype=bool), k)


def forehead_points(xy: np.ndarray, extra: float = FOREHEAD_EXTRA) -> np.ndarray:
    """The mesh's upper rim moved up the face (chin 152 -> top 10 direction)."""
    up = xy[10] - xy[152]
    up = up / max(float(np.linalg.norm(up)), 1e-9)
    return xy[list(UPPER_RIM)] + up * extra * float(np.linalg.norm(xy[10] - xy[168]))


def jaw_points(xy: np.ndarray, extra: float = JAW_EXTRA) -> np.ndarray:
    """The mesh's lower rim moved down the face (top 10 -> chin 152), by ``extra`` x face height."""
    down = xy[152] - xy[10]
    return xy[list(LOWER_RIM)] + down * extra


def face_polygon(mesh_xy: np.ndarray) -> np.ndarray:
    """The face's outline (m, 2), photo pixels: the hull of the mesh with its raised upper rim
    and lowered jaw, widened by `MARGIN` x face height all round."""
    xy = np.asarray(mesh_xy, dtype=np.float64)
    face = convex_hull(np.concatenate([xy, forehead_points(xy), jaw_points(xy)]))
    face_h = float(np.linalg.norm(xy[10] - xy[152]))
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = np.stack([np.cos(t), np.sin(t)], axis=1) * MARGIN * face_h
    return convex_hull((face[:, None, :] + ring[None]).reshape(-1, 2))


def dim_outside(rgb: np.ndarray, mask: SkinMask, k: float, keep: float = 0.4) -> np.ndarray:
    """A copy of the display image ``rgb`` (``k`` display pixels per photo pixel) with the area
    outside the skin mask darkened to ``keep`` of its brightness."""
    h, w = rgb.shape[:2]
    grid = Image.fromarray(mask.grid.astype(np.uint8) * 255).resize((w, h), Image.NEAREST)
    on = np.asarray(grid) > 0
    out = rgb.astype(np.float32)
    out[~on] *= keep
    return out.astype(np.uint8)
