"""`AcneDataset`: images with their lesion circles and the ``info`` block; Acne04-v2 JSON I/O.

The Acne04-v2 format is COCO-like::

    {"images": [{"id": 0, "file_name": "levle3_116.jpg", "width": 3112, "height": 3456}, ...],
     "annotations": [{"id": 0, "image_id": 0, "coordinates": [x, y], "radius": r,
                      "class_name": "acne", "score": 0.9}, ...],
     "info": {...}}

Unknown fields (on images, annotations and the top level) are kept and written back, so
load -> save -> load gives equal data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from acnekit.atomic import atomic_write_text, check_output
from acnekit.circles import Circles

ANNOTATION_KEYS = ("id", "image_id", "coordinates", "radius", "score", "class_name")
IMAGE_KEYS = ("id", "file_name", "width", "height")


@dataclass(eq=False)
class ImageRecord:
    """One photo: its recorded size, its circles, and what else the file said about it."""

    id: int
    file_name: str
    width: int
    height: int
    circles: Circles = field(default_factory=Circles.empty)
    ann_ids: np.ndarray | None = None  # (n,) int64 annotation ids, None = assign on save
    ann_extra: list[dict] | None = None  # per-annotation unknown fields
    extra: dict = field(default_factory=dict)  # unknown image fields

    def __post_init__(self) -> None:
        n = len(self.circles)
        if self.ann_ids is not None:
            self.ann_ids = np.asarray(self.ann_ids, dtype=np.int64).reshape(-1)
            if len(self.ann_ids) != n:
                raise ValueError(f"ann_ids must have shape ({n},), got {self.ann_ids.shape}")
        if self.ann_extra is not None and len(self.ann_extra) != n:
            raise ValueError(f"ann_extra must have {n} entries, got {len(self.ann_extra)}")

    @property
    def count(self) -> int:
        return len(self.circles)

    def with_circles(self, circles: Circles) -> "ImageRecord":
        """The same image with other circles (annotation ids and extras dropped)."""
        return replace(self, circles=circles, ann_ids=None, ann_extra=None)

    def equals(self, other: "ImageRecord") -> bool:
        return (
            self.id == other.id
            and self.file_name == other.file_name
            and self.width == other.width
            and self.height == other.height
            and self.circles == other.circles
            and _ids_equal(self.ann_ids, other.ann_ids)
            and _extras(self) == _extras(other)
            and self.extra == other.extra
        )


def _ids_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:  # "not assigned yet" equals "no ids" for an image without circles
        return (a is None and b is None) or len(a if a is not None else b) == 0
    return a.shape == b.shape and bool(np.all(a == b))


def _extras(rec: ImageRecord) -> list[dict]:
    return rec.ann_extra if rec.ann_extra is not None else [{} for _ in range(rec.count)]


@dataclass(eq=False)
class AcneDataset:
    """Images (in file order) with their circles, the ``info`` block and other top-level keys."""

    images: list[ImageRecord]
    info: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    path: str | None = None

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[ImageRecord]:
        return iter(self.images)

    @property
    def n_lesions(self) -> int:
        return sum(im.count for im in self.images)

    def counts(self) -> np.ndarray:
        return np.array([im.count for im in self.images], dtype=np.int64)

    def by_name(self) -> dict[str, ImageRecord]:
        return {im.file_name: im for im in self.images}

    def by_id(self) -> dict[int, ImageRecord]:
        return {im.id: im for im in self.images}

    def subset(self, file_names: list[str] | set[str]) -> "AcneDataset":
        keep = set(file_names)
        return replace(self, images=[im for im in self.images if im.file_name in keep])

    def equals(self, other: "AcneDataset") -> bool:
        return (
            len(self.images) == len(other.images)
            and all(a.equals(b) for a, b in zip(self.images, other.images))
            and self.info == other.info
            and self.extra == other.extra
        )

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        images, annotations = [], []
        used = {int(i) for im in self.images if im.ann_ids is not None for i in im.ann_ids}
        next_id = max(used, default=-1) + 1
        for im in self.images:
            images.append({"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height, **im.extra})
            c = im.circles
            extras = _extras(im)
            for k in range(len(c)):
                if im.ann_ids is not None:
                    ann_id = int(im.ann_ids[k])
                else:
                    ann_id, next_id = next_id, next_id + 1
                ann: dict[str, Any] = {
                    "id": ann_id,
                    "image_id": im.id,
                    "coordinates": [_num(c.xy[k, 0]), _num(c.xy[k, 1])],
                    "radius": _num(c.radius[k]),
                }
                if c.class_name is not None and c.class_name[k] is not None:
                    ann["class_name"] = c.class_name[k]
                if c.score is not None:
                    ann["score"] = float(c.score[k])
                ann.update(extras[k])
                annotations.append(ann)
        return {"images": images, "annotations": annotations, "info": self.info, **self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)


def _num(v: float) -> int | float:
    # No rounding: load -> save -> load must give equal data (json writes the shortest exact repr).
    v = float(v)
    return int(v) if v.is_integer() else v


def load_dataset(path: str | Path, *, fix: bool = False):
    """Load and validate an Acne04-v2 file.

    Strict (default): raise `DatasetError` on the first class of problem.
    ``fix=True``: repair what can be repaired and return ``(dataset, repairs)``.
    """
    from acnekit.validate import load_validated

    ds, issues = load_validated(path, fix=fix)
    return (ds, issues) if fix else ds


def save_dataset(ds: AcneDataset, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``ds`` as Acne04-v2 JSON, atomically. Never overwrites its own source file
    unless ``overwrite`` is true, and never an existing file unless ``overwrite`` is true."""
    if not overwrite:
        check_output(path, inputs=[ds.path] if ds.path else [])
    return atomic_write_text(path, ds.to_json(), overwrite=overwrite)
