"""Helpers shared by the format modules: numbers, the outside-the-image check, atomic folders."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from acnekit.atomic import check_output, write_tree
from acnekit.dataset import ImageRecord
from acnekit.errors import DatasetError, OutputError, short_repr

UNNAMED_CLASS = "lesion"  # class written for circles without a class name (YOLO, VOC)
BOX_KEY = "box"  # annotation extra field: the [x1, y1, x2, y2] box a circle was derived from


def is_num(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and math.isfinite(v)


def num(v: float) -> int | float:
    """A float as written to text formats: an int when integral, else the exact float."""
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def fmt(v: float) -> str:
    return repr(num(v))


def parse_float(text: str | None, *, path: Any, where: str, what: str) -> float:
    """A finite number from text, or a `DatasetError` naming the file, place and value."""
    try:
        v = float(str(text).strip())
    except (TypeError, ValueError):
        raise DatasetError(f"{what} must be a number, got {short_repr(text)}", path=path, where=where) from None
    if not math.isfinite(v):
        raise DatasetError(f"{what} must be finite, got {short_repr(text)}", path=path, where=where)
    return v


def check_box(box: list[float], *, path: Any, where: str) -> None:
    """A box [x1, y1, x2, y2] must have positive width and height."""
    if not box[2] > box[0]:
        raise DatasetError(f"box width must be positive, got x1={num(box[0])} x2={num(box[2])}", path=path, where=where)
    if not box[3] > box[1]:
        raise DatasetError(f"box height must be positive, got y1={num(box[1])} y2={num(box[3])}", path=path,
                           where=where)


def check_inside(rec: ImageRecord, *, path: Any, where: Iterable[str]) -> None:
    """Refuse circles whose centre lies outside the recorded image size (``where``: one
    location per circle for the message). Centres beyond the border by float noise only
    (up to 1e-6 of the image size, e.g. from normalised YOLO coordinates) are moved onto it."""
    c = rec.circles
    tol = 1e-6 * max(rec.width, rec.height)
    near = (c.xy >= -tol) & (c.xy <= np.array([rec.width, rec.height]) + tol)
    c.xy = np.where(near, np.clip(c.xy, 0, [rec.width, rec.height]), c.xy)
    bad = np.flatnonzero(~c.inside(rec.width, rec.height) | (c.radius > max(rec.width, rec.height)))
    if len(bad):
        k = int(bad[0])
        loc = list(where)[k]
        x, y, r = (num(v) for v in c.xyr[k])
        raise DatasetError(
            f"circle [x={x}, y={y}, r={r}] lies outside the {rec.width}x{rec.height} image {rec.file_name!r} "
            f"({len(bad)} such circles in this image); pass --keep-outside to keep such circles",
            path=path, where=loc)


def check_positive_size(w: Any, h: Any, *, path: Any, where: str) -> tuple[int, int]:
    out = []
    for name, v in (("width", w), ("height", h)):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if type(v) is not int or v <= 0:
            raise DatasetError(f"{name} must be a positive integer, got {short_repr(v)}", path=path, where=where)
        out.append(v)
    return out[0], out[1]


# files a reader of each folder format takes as the dataset: ones acnekit did not write are refused
FOLDER_CLAIMS = {"yolo": ("labels/*.txt",), "voc": ("*.xml",)}
_READER = {"yolo": "a YOLO reader", "voc": "a VOC reader"}


def write_folder(out: str | Path, files: dict[str, bytes], *, overwrite: bool = False,
                 inputs: Iterable[str | Path | None] = (), fmt: str = "") -> Path:
    """Write ``files`` (relative path -> bytes) into the folder ``out`` atomically
    (`acnekit.atomic.write_tree`): a new folder appears complete; in an existing one, with
    ``overwrite``, only these files (and the ones an earlier conversion to the same format
    wrote there) are replaced, and everything else (the photos in ``images/``, the user's
    files) stays. Never writes over or inside one of ``inputs``."""
    return write_tree(out, files, overwrite=overwrite, inputs=inputs, claims=FOLDER_CLAIMS.get(fmt, ()),
                      reader=_READER.get(fmt, ""), kind=f"convert {fmt}".strip())


def check_file_output(out: str | Path, *, overwrite: bool, inputs: Iterable[str | Path | None]) -> Path:
    """`check_output`, and never one of ``inputs`` even with ``overwrite``."""
    out = Path(out)
    for src in inputs:
        if src is None:
            continue
        s = Path(src).resolve()
        if out.resolve() == s:
            raise OutputError("refusing to overwrite an input file; choose another output path", path=out)
    return check_output(out, overwrite=overwrite)
