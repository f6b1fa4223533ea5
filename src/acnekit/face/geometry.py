"""The face geometry an assessment carries (``summary.face.geometry``), so that a lesion added
or moved later (the web page) gets the same ``in_skin`` and ``region`` as a detected one.

JSON form (photo pixels of the upright photo, x right, y down, rounded to 0.1 px)::

    {"version": 1, "image_size": [W, H], "grid_side": 512,
     "skin": ["x,y x,y ...", ...],            # the face outline(s)
     "holes": ["x,y x,y ...", ...],           # eyes, brows, lips, nostrils: not skin
     "region_anchors": {"forehead": "x,y x,y ...", "left_cheek": ..., ...}}

Each polygon or point list is one string of space-separated ``x,y`` pairs (SVG's ``points``
form): the assessment JSON is written indented, and nested number arrays would take ten
times the room (a few KB this way).

Membership (`FaceGeometry.flags`, what ``acnekit assess`` itself uses): a point is on skin
when its cell of a grid of ``k = min(1, grid_side / max(W, H))`` cells per pixel is set after
the ``skin`` polygons are filled and then the ``holes`` cleared (`acnekit.face.mask.rasterise`,
Pillow's polygon fill); a point on skin belongs to the region of its nearest anchor (ties: the
first in `acnekit.face.regions.NAMES` order, then list order). A reader without Pillow gets
the same answer, except within a grid cell of an edge, from "inside a skin polygon and in no
hole".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from acnekit.errors import DatasetError, short_repr
from acnekit.face import mask as maskmod
from acnekit.face.regions import ANCHORS, NAMES, nearest_label

VERSION = 1
MAX_POLYGONS = 32  # per list (skin, holes)
MAX_POINTS = 5000  # in all (a real face: about 250)
MAX_COORD = 1e6  # |x|, |y|: polygons may reach past the photo's edges, not this far
GRID_SIDES = (16, 4096)


def points_text(xy: np.ndarray) -> str:
    """``"x,y x,y ..."`` with 0.1 px, trailing ``.0`` dropped."""
    def num(v: float) -> str:
        t = f"{v:.1f}"
        t = t[:-2] if t.endswith(".0") else t
        return "0" if t == "-0" else t

    return " ".join(f"{num(x)},{num(y)}" for x, y in np.asarray(xy, dtype=np.float64).reshape(-1, 2))


def parse_points(text: Any, where: str, min_points: int = 1) -> np.ndarray:
    """(m, 2) from ``"x,y x,y ..."``; `DatasetError` naming ``where`` and the bad value."""
    if not isinstance(text, str):
        raise DatasetError(f"must be a string of 'x,y' pairs, got {short_repr(text)}", where=where)
    pairs = text.split()
    if len(pairs) < min_points:
        raise DatasetError(f"needs at least {min_points} 'x,y' points, got {len(pairs)}", where=where)
    out = np.empty((len(pairs), 2), dtype=np.float64)
    for i, pair in enumerate(pairs):
        xy = pair.split(",")
        try:
            out[i] = [float(xy[0]), float(xy[1])] if len(xy) == 2 else [np.nan, np.nan]
        except ValueError:
            out[i] = np.nan
        if not (np.isfinite(out[i]).all() and np.abs(out[i]).max() <= MAX_COORD):
            raise DatasetError(f"point {i} must be 'x,y' with finite numbers of at most {MAX_COORD:g}, got "
                               f"{short_repr(pair)}", where=where)
    return out


@dataclass(eq=False)
class FaceGeometry:
    """The skin polygons, the holes and the region anchors of one photo's face (photo pixels)."""

    width: int
    height: int
    skin: list[np.ndarray]
    holes: list[np.ndarray]
    anchors: dict[str, np.ndarray]  # region name -> (m, 2), in `NAMES` order
    grid_side: int = maskmod.GRID_SIDE

    @cached_property
    def mask(self) -> maskmod.SkinMask:
        return maskmod.rasterise(self.skin, self.holes, self.width, self.height, self.grid_side)

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        names = [n for n in NAMES if n in self.anchors]
        xy = np.concatenate([self.anchors[n] for n in names]) if names else np.zeros((0, 2))
        lab = np.concatenate([np.full(len(self.anchors[n]), NAMES.index(n)) for n in names]) if names else []
        return xy, np.asarray(lab, dtype=np.int64)

    def region_index(self, xy: np.ndarray) -> np.ndarray:
        """(n,) the region number (index into `NAMES`) of the nearest anchor, on skin or not."""
        anchors, lab = self._table
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return nearest_label(anchors, lab, xy) if len(xy) else np.zeros(0, dtype=np.int64)

    def flags(self, xy: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """Per point (n, 2): on skin? and its region (None off skin)."""
        ins = self.mask.inside(xy)
        return ins, [NAMES[k] if ok else None for k, ok in zip(self.region_index(xy), ins)]

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "image_size": [int(self.width), int(self.height)], "grid_side": int(self.grid_side),
                "skin": [points_text(p) for p in self.skin], "holes": [points_text(p) for p in self.holes],
                "region_anchors": {n: points_text(a) for n, a in self.anchors.items()}}

    @classmethod
    def from_json(cls, obj: Any, where: str = "summary.face.geometry",
                  image_size: tuple[int, int] | None = None) -> FaceGeometry:
        """Parsed and checked; `DatasetError` naming the JSON path and the value. With
        ``image_size``, the geometry must be that photo's."""
        if not isinstance(obj, dict):
            raise DatasetError(f"must be an object, got {short_repr(obj)}", where=where)
        if obj.get("version") != VERSION or isinstance(obj.get("version"), bool):
            raise DatasetError(f"must be {VERSION}, got {short_repr(obj.get('version'))}", where=f"{where}.version")
        size = obj.get("image_size")
        if not (isinstance(size, list) and len(size) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
            raise DatasetError(f"must be [width, height] in pixels, got {short_repr(size)}",
                               where=f"{where}.image_size")
        if image_size is not None and tuple(size) != tuple(image_size):
            raise DatasetError(f"is for a {size[0]}x{size[1]} photo, but the image is {image_size[0]}x{image_size[1]}",
                               where=f"{where}.image_size")
        side = obj.get("grid_side", maskmod.GRID_SIDE)
        if not (isinstance(side, int) and not isinstance(side, bool) and GRID_SIDES[0] <= side <= GRID_SIDES[1]):
            raise DatasetError(f"must be a whole number from {GRID_SIDES[0]} to {GRID_SIDES[1]}, got "
                               f"{short_repr(side)}", where=f"{where}.grid_side")
        texts = [t for k in ("skin", "holes") if isinstance(obj.get(k), list) for t in obj[k]]
        texts += list(obj["region_anchors"].values()) if isinstance(obj.get("region_anchors"), dict) else []
        total = sum(len(t.split()) for t in texts if isinstance(t, str))  # counted before any is parsed
        if total > MAX_POINTS:
            raise DatasetError(f"holds {total} points, more than the {MAX_POINTS} accepted", where=where)
        lists = {}
        for key in ("skin", "holes"):
            v = obj.get(key, [] if key == "holes" else None)
            if not (isinstance(v, list) and len(v) <= MAX_POLYGONS and (v or key == "holes")):
                raise DatasetError(f"must be a list of 1 to {MAX_POLYGONS} polygons ('x,y x,y ...' strings), got "
                                   f"{short_repr(v)}", where=f"{where}.{key}")
            lists[key] = [parse_points(p, f"{where}.{key}[{i}]", min_points=3) for i, p in enumerate(v)]
        reg = obj.get("region_anchors")
        if not (isinstance(reg, dict) and reg and set(reg) <= set(NAMES)):
            raise DatasetError(f"must be an object mapping some of {list(NAMES)} to 'x,y ...' strings, got "
                               f"{short_repr(reg)}", where=f"{where}.region_anchors")
        anchors = {n: parse_points(reg[n], f"{where}.region_anchors.{n}") for n in NAMES if n in reg}
        return cls(size[0], size[1], lists["skin"], lists["holes"], anchors, side)


def from_mesh(mesh_xy: np.ndarray, width: int, height: int, grid_side: int = maskmod.GRID_SIDE) -> FaceGeometry:
    """The geometry of a face mesh (468, 2): `mask.face_polygon`, `mask.holes` and the region
    anchors of `regions.ANCHORS`, rounded to 0.1 px exactly as its JSON reads back (assessment
    uses this rounded geometry, so the JSON reproduces its flags exactly)."""
    xy = np.asarray(mesh_xy, dtype=np.float64)

    def rounded(p: np.ndarray) -> np.ndarray:
        return parse_points(points_text(p), "geometry")

    return FaceGeometry(int(width), int(height), [rounded(maskmod.face_polygon(xy))],
                        [rounded(p) for p in maskmod.holes(xy)],
                        {n: rounded(xy[list(ANCHORS[n])]) for n in NAMES}, grid_side)
