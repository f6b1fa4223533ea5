"""`Circles`: a validated set of lesion circles held as numpy arrays, plus circle geometry.

Coordinates are pixels of the image as stored on disk after EXIF orientation is applied:
x to the right, y down, radius in the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np


def _as_float_array(name: str, value: Any, shape_tail: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0:
        arr = arr.reshape((0, *shape_tail))
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        want = "(n, " + ", ".join(map(str, shape_tail)) + ")" if shape_tail else "(n,)"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    return arr


@dataclass(eq=False)
class Circles:
    """n circles: ``xy`` (n, 2) centres, ``radius`` (n,), optional ``score`` (n,),
    ``class_name`` (n,) object array of strings and ``graded_score`` (n,) (the graded head's
    score: how likely the reference grade counts the lesion, `acnekit.detector.graded`).

    Supports ``len(c)``, boolean / integer / slice indexing (``c[c.score > 0.3]``) and
    ``Circles.empty()``.
    """

    xy: np.ndarray
    radius: np.ndarray
    score: np.ndarray | None = None
    class_name: np.ndarray | None = field(default=None)
    graded_score: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xy = _as_float_array("xy", self.xy, (2,))
        n = len(self.xy)
        self.radius = _as_float_array("radius", self.radius, ())
        if self.radius.shape != (n,):
            raise ValueError(f"radius must have shape ({n},), got {self.radius.shape}")
        if self.score is not None:
            self.score = _as_float_array("score", self.score, ())
            if self.score.shape != (n,):
                raise ValueError(f"score must have shape ({n},), got {self.score.shape}")
        if self.graded_score is not None:
            self.graded_score = _as_float_array("graded_score", self.graded_score, ())
            if self.graded_score.shape != (n,):
                raise ValueError(f"graded_score must have shape ({n},), got {self.graded_score.shape}")
        if self.class_name is not None:
            names = np.empty(len(self.class_name), dtype=object)
            names[:] = list(self.class_name)
            if names.shape != (n,):
                raise ValueError(f"class_name must have shape ({n},), got {names.shape}")
            self.class_name = names

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, with_score: bool = False) -> "Circles":
        return cls(np.zeros((0, 2)), np.zeros(0), np.zeros(0) if with_score else None)

    @classmethod
    def from_xyr(cls, xyr: Any, score: Any = None, class_name: Any = None) -> "Circles":
        """From an (n, 3) array of ``[x, y, r]`` rows."""
        arr = _as_float_array("xyr", xyr, (3,))
        return cls(arr[:, :2], arr[:, 2], score, class_name)

    @classmethod
    def concat(cls, parts: Iterable["Circles"]) -> "Circles":
        parts = list(parts)
        if not parts:
            return cls.empty()
        has_score = all(p.score is not None for p in parts)
        has_names = any(p.class_name is not None for p in parts)
        names = None
        if has_names:
            names = np.concatenate(
                [p.class_name if p.class_name is not None else np.array([None] * len(p), dtype=object) for p in parts]
            )
        return cls(
            np.concatenate([p.xy for p in parts]),
            np.concatenate([p.radius for p in parts]),
            np.concatenate([p.score for p in parts]) if has_score else None,
            names,
            np.concatenate([p.graded_score for p in parts]) if all(p.graded_score is not None for p in parts) else None,
        )

    # ------------------------------------------------------------------ container protocol
    def __len__(self) -> int:
        return len(self.radius)

    def __getitem__(self, index: Any) -> "Circles":
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Circles(
            self.xy[index],
            self.radius[index],
            None if self.score is None else self.score[index],
            None if self.class_name is None else self.class_name[index],
            None if self.graded_score is None else self.graded_score[index],
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Circles):
            return NotImplemented
        def same(a, b):
            if a is None or b is None:
                return a is None and b is None
            return a.shape == b.shape and bool(np.all(a == b))
        return (
            same(self.xy, other.xy)
            and same(self.radius, other.radius)
            and same(self.score, other.score)
            and same(self.class_name, other.class_name)
            and same(self.graded_score, other.graded_score)
        )

    def __repr__(self) -> str:
        extra = "" if self.score is None else ", scored"
        return f"Circles(n={len(self)}{extra})"

    # ------------------------------------------------------------------ geometry
    @property
    def xyr(self) -> np.ndarray:
        """(n, 3) array of ``[x, y, r]``."""
        return np.column_stack([self.xy, self.radius]) if len(self) else np.zeros((0, 3))

    @property
    def area(self) -> np.ndarray:
        """(n,) disc areas, pi * r^2."""
        return np.pi * self.radius**2

    def to_xyxy(self) -> np.ndarray:
        """(n, 4) bounding boxes ``[x - r, y - r, x + r, y + r]``."""
        r = self.radius[:, None]
        return np.concatenate([self.xy - r, self.xy + r], axis=1)

    @classmethod
    def from_xyxy(cls, boxes: Any, radius_rule: str = "mean", **kw: Any) -> "Circles":
        """Circles from (n, 4) boxes: centre of the box; radius by ``radius_rule``:
        ``mean`` (mean half-side, default), ``min`` (inscribed), ``max`` or
        ``area`` (disc of the box's area)."""
        b = _as_float_array("boxes", boxes, (4,))
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        rules = {
            "mean": (w + h) / 4.0,
            "min": np.minimum(w, h) / 2.0,
            "max": np.maximum(w, h) / 2.0,
            "area": np.sqrt(np.clip(w * h, 0, None) / np.pi),
        }
        if radius_rule not in rules:
            raise ValueError(f"radius_rule must be one of {sorted(rules)}, got {radius_rule!r}")
        xy = np.column_stack([(b[:, 0] + b[:, 2]) / 2.0, (b[:, 1] + b[:, 3]) / 2.0])
        return cls(xy, rules[radius_rule], **kw)

    def scaled(self, sx: float, sy: float) -> "Circles":
        """Circles on an image resized by (sx, sy): x by sx, y by sy, radius by their mean."""
        return Circles(self.xy * np.array([sx, sy]), self.radius * (sx + sy) / 2.0, self.score, self.class_name,
                       self.graded_score)

    def inside(self, width: float, height: float) -> np.ndarray:
        """(n,) bool: centre lies within ``[0, width] x [0, height]``."""
        x, y = self.xy[:, 0], self.xy[:, 1]
        return (x >= 0) & (x <= width) & (y >= 0) & (y <= height)


def circle_iou(a: Any, b: Any) -> np.ndarray:
    """Exact IoU of circles by lens area.

    Args:
        a: (N, 3) array of ``[x, y, r]``.
        b: (M, 3) array of ``[x, y, r]``.

    Returns:
        (N, M) float64 array of intersection-over-union in [0, 1]. Disjoint circles give 0,
        identical ones 1, nested ones the ratio of their areas. Computed in float64.
    """
    a = _as_float_array("a", a, (3,))
    b = _as_float_array("b", b, (3,))
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    r1 = a[:, None, 2]
    r2 = b[None, :, 2]
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    inter = lens_area(d, r1, r2)
    union = np.pi * (r1**2 + r2**2) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.clip(iou, 0.0, 1.0)


def lens_area(d: np.ndarray, r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Area of intersection of two discs of radii r1, r2 whose centres are d apart (broadcast)."""
    d, r1, r2 = np.broadcast_arrays(np.asarray(d, float), np.asarray(r1, float), np.asarray(r2, float))
    out = np.zeros(d.shape)
    rmin = np.minimum(r1, r2)
    nested = d <= np.abs(r1 - r2)
    out[nested] = np.pi * rmin[nested] ** 2
    part = (~nested) & (d < r1 + r2)
    if np.any(part):
        dd, a, b = d[part], r1[part], r2[part]
        c1 = np.clip((dd**2 + a**2 - b**2) / (2 * dd * a), -1.0, 1.0)
        c2 = np.clip((dd**2 + b**2 - a**2) / (2 * dd * b), -1.0, 1.0)
        k = (-dd + a + b) * (dd + a - b) * (dd - a + b) * (dd + a + b)
        out[part] = a**2 * np.arccos(c1) + b**2 * np.arccos(c2) - 0.5 * np.sqrt(np.clip(k, 0, None))
    return out
