"""Physical scale of a photo: pixels per millimetre.

Sources, in this order: given directly (``--px-per-mm``, source ``manual``) or by a ruler
(``--ruler``, source ``ruler``); else measured from the iris by `acnekit.face` (source
``iris``, with an uncertainty); else none. Given directly (``--px-per-mm 12.5``) or measured from two points on a ruler seen in the
photo and the distance between them in millimetres (``--ruler X1,Y1,X2,Y2,MM``):
``px_per_mm = hypot(x2 - x1, y2 - y1) / MM``. Ruler points are pixels of the upright photo
(after EXIF orientation), the same coordinates as the lesion circles.

Sizes are reported in mm only when a scale is known; otherwise in pixels, with a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from acnekit.errors import AcneKitError, short_repr

NO_SCALE_NOTE = "no physical scale given (--px-per-mm or --ruler): sizes are in pixels only"
SOURCES = ("manual", "ruler", "iris", "none")


class ScaleError(AcneKitError):
    """A scale option (``--px-per-mm``, ``--ruler``) is invalid."""


@dataclass(frozen=True)
class Scale:
    """``px_per_mm`` None when unknown; ``source`` one of `SOURCES`; ``uncertainty`` one sd in
    px/mm (iris scale); ``note`` says how the scale was found or why there is none."""

    px_per_mm: float | None = None
    source: str = "none"
    ruler: tuple[float, float, float, float, float] | None = None  # x1, y1, x2, y2, mm
    uncertainty: float | None = None
    note: str | None = None

    @property
    def known(self) -> bool:
        return self.px_per_mm is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"px_per_mm": self.px_per_mm, "source": self.source,
                               "uncertainty": self.uncertainty}
        if self.ruler is not None:
            x1, y1, x2, y2, mm = self.ruler
            out["ruler"] = {"p1": [x1, y1], "p2": [x2, y2], "mm": mm,
                            "length_px": math.hypot(x2 - x1, y2 - y1)}
        out["units"] = "mm" if self.known else "px"
        out["note"] = self.note if self.note else (None if self.known else NO_SCALE_NOTE)
        return out


def _positive(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ScaleError(f"must be a number, got {short_repr(value)}", where=what) from None
    if not math.isfinite(v) or v <= 0:
        raise ScaleError(f"must be a positive finite number, got {short_repr(value)}", where=what)
    return v


def from_px_per_mm(value: Any) -> Scale:
    return Scale(_positive(value, "--px-per-mm"), "manual")


def from_iris(px_per_mm: float | None, uncertainty: float | None, note: str) -> Scale:
    """The iris scale measured by `acnekit.face.iris.iris_scale` (none when ``px_per_mm`` is None)."""
    if px_per_mm is None:
        return Scale(note=f"{note}; no --px-per-mm or --ruler given: sizes are in pixels only")
    return Scale(float(px_per_mm), "iris", uncertainty=uncertainty, note=note)


def parse_ruler(text: str | Sequence[Any]) -> tuple[float, float, float, float, float]:
    """``"X1,Y1,X2,Y2,MM"`` (or a 5-sequence) -> floats, checked: finite coordinates,
    distinct points, positive MM."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    if len(parts) != 5:
        raise ScaleError(f"expected X1,Y1,X2,Y2,MM (5 numbers), got {short_repr(text)}", where="--ruler")
    vals = []
    for name, p in zip(("X1", "Y1", "X2", "Y2"), parts[:4]):
        try:
            v = float(p)
        except (TypeError, ValueError):
            raise ScaleError(f"{name} must be a number, got {short_repr(p)}", where="--ruler") from None
        if not math.isfinite(v):
            raise ScaleError(f"{name} must be finite, got {short_repr(p)}", where="--ruler")
        vals.append(v)
    mm = _positive(parts[4], "--ruler MM")
    x1, y1, x2, y2 = vals
    if x1 == x2 and y1 == y2:
        raise ScaleError(f"the two ruler points are the same ({x1:g}, {y1:g}); mark two distinct points",
                         where="--ruler")
    return x1, y1, x2, y2, mm


def from_ruler(ruler: str | Sequence[Any]) -> Scale:
    x1, y1, x2, y2, mm = parse_ruler(ruler)
    return Scale(math.hypot(x2 - x1, y2 - y1) / mm, "ruler", (x1, y1, x2, y2, mm))


def resolve_scale(px_per_mm: Any = None, ruler: Any = None) -> Scale:
    """One `Scale` from the two options (at most one may be given)."""
    if px_per_mm is not None and ruler is not None:
        raise ScaleError("give either --px-per-mm or --ruler, not both")
    if px_per_mm is not None:
        return from_px_per_mm(px_per_mm)
    if ruler is not None:
        return from_ruler(ruler)
    return Scale()


def check_in_image(scale: Scale, width: int, height: int, name: str | None = None) -> None:
    """Ruler points must lie in the photo (0 <= x <= width, 0 <= y <= height)."""
    if scale.ruler is None:
        return
    x1, y1, x2, y2, _ = scale.ruler
    for label, x, y in (("first", x1, y1), ("second", x2, y2)):
        if not (0 <= x <= width and 0 <= y <= height):
            raise ScaleError(f"{label} ruler point ({x:g}, {y:g}) is outside the {width}x{height} photo",
                             path=name, where="--ruler")
