"""COCO detection JSON <-> `AcneDataset`.

Writing: one annotation per circle with ``bbox`` ``[x - r, y - r, 2r, 2r]``, ``area`` = pi r^2,
``iscrowd`` 0, one category per class name (ids 1..K in order of first appearance), and the
exact circle in ``"circle": [x, y, r]``. Image ids, annotation ids, file names, sizes, scores,
``info``, other top-level keys and unknown image / annotation fields are kept, so
Acne04-v2 -> COCO -> Acne04-v2 gives an equal dataset.

Annotation id 0 (the Acne04-v2 file starts at 0) breaks COCOeval: pycocotools records
matches by annotation id and reads id 0 as "unmatched", so a perfect detection of that
lesion counts as a false positive. When a dataset has annotation ids below 1, all its
annotation ids are shifted to start at 1 and the shift is recorded as
``"acnekit": {"annotation_id_offset": k}``; reading subtracts it again. Circles without a class name go to a
category ``"lesion"`` flagged ``"unnamed": true``. A circle derived from a box (its
annotation carries ``"box": [x1, y1, x2, y2]``, e.g. read from VOC) keeps that box as bbox.

Reading: the circle comes from ``"circle"`` when present; otherwise from ``bbox`` (centre of
the box, radius by ``radius_rule``, see `Circles.from_xyxy`), and the box is kept in the
annotation's ``"box"`` field so tools know it came from a box.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from acnekit.atomic import atomic_write_text
from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import DatasetError, short_repr
from acnekit.formats._util import (BOX_KEY, UNNAMED_CLASS, check_file_output, check_inside, check_positive_size,
                                   is_num, num)
from acnekit.validate import bad_file_name, read_json

_CORE = ("id", "image_id", "category_id", "bbox", "area", "iscrowd", "circle", "score")
_IMAGE_CORE = ("id", "file_name", "width", "height")


def _categories(ds: AcneDataset) -> tuple[list[dict], dict[Any, int]]:
    order: dict[Any, int] = {}
    for im in ds.images:
        names = im.circles.class_name
        if names is None:
            if im.count:
                order.setdefault(None, len(order) + 1)
            continue
        for name in dict.fromkeys(names.tolist()):
            order.setdefault(name, len(order) + 1)
    cats = []
    for name, cid in order.items():
        if name is None:
            cats.append({"id": cid, "name": UNNAMED_CLASS, "supercategory": "acne", "unnamed": True})
        else:
            cats.append({"id": cid, "name": name, "supercategory": "acne"})
    return cats, order


def dataset_to_coco(ds: AcneDataset) -> dict[str, Any]:
    """A COCO detection object (see the module docstring)."""
    cats, cat_id = _categories(ds)
    used = {int(i) for im in ds.images if im.ann_ids is not None for i in im.ann_ids}
    next_id = max(used, default=0) + 1
    offset = 1 - min(used) if used and min(used) < 1 else 0
    images, anns = [], []
    for im in ds.images:
        images.append({**im.extra, "id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height})
        c = im.circles
        extras = im.ann_extra or [{} for _ in range(len(c))]
        xyr = c.xyr
        for k in range(len(c)):
            if im.ann_ids is not None:
                ann_id = int(im.ann_ids[k])
            else:
                ann_id, next_id = next_id, next_id + 1
            x, y, r = (float(v) for v in xyr[k])
            extra = extras[k]
            box = extra.get(BOX_KEY)
            if isinstance(box, list) and len(box) == 4 and all(is_num(v) for v in box):
                bbox = [box[0], box[1], box[2] - box[0], box[3] - box[1]]
                area = bbox[2] * bbox[3]
            else:
                bbox = [x - r, y - r, 2 * r, 2 * r]
                area = float(np.pi * r * r)
            name = None if c.class_name is None else c.class_name[k]
            ann = {**extra, "id": ann_id + offset, "image_id": im.id, "category_id": cat_id[name],
                   "bbox": [num(round(v, 6)) for v in bbox], "area": num(round(area, 6)), "iscrowd": 0,
                   "circle": [num(x), num(y), num(r)]}
            if c.score is not None:
                ann["score"] = float(c.score[k])
            anns.append(ann)
    top = {**ds.extra, "info": ds.info, "images": images, "annotations": anns, "categories": cats}
    if offset:
        top["acnekit"] = {**top.get("acnekit", {}), "annotation_id_offset": offset}
    return top


def _bad(msg: str, path: Any, where: str) -> DatasetError:
    return DatasetError(msg, path=path, where=where)


def _read_categories(obj: dict, path: Any) -> dict[int, str | None]:
    cats = obj.get("categories", [])
    if not isinstance(cats, list):
        raise _bad(f"must be a list, got {type(cats).__name__}", path, "categories")
    out: dict[int, str | None] = {}
    for i, c in enumerate(cats):
        where = f"categories[{i}]"
        if not isinstance(c, dict):
            raise _bad(f"category must be an object, got {short_repr(c)}", path, where)
        if type(c.get("id")) is not int:
            raise _bad(f"id must be an integer, got {short_repr(c.get('id'))}", path, f"{where}.id")
        if c["id"] in out:
            raise _bad(f"duplicate category id {c['id']}", path, f"{where}.id")
        name = c.get("name")
        if not isinstance(name, str) or not name:
            raise _bad(f"name must be a non-empty string, got {short_repr(name)}", path, f"{where}.name")
        out[c["id"]] = None if c.get("unnamed") is True else name
    return out


def _read_images(items: list, path: Any) -> dict[int, dict]:
    out: dict[int, dict] = {}
    names: set[str] = set()
    for i, im in enumerate(items):
        where = f"images[{i}]"
        if not isinstance(im, dict):
            raise _bad(f"image must be an object, got {short_repr(im)}", path, where)
        if type(im.get("id")) is not int:
            raise _bad(f"id must be an integer, got {short_repr(im.get('id'))}", path, f"{where}.id")
        if im["id"] in out:
            raise _bad(f"duplicate image id {im['id']}", path, f"{where}.id")
        name = im.get("file_name")
        if (why := bad_file_name(name)) is not None:
            raise _bad(f"{why}, got {short_repr(name)}", path, f"{where}.file_name")
        if name in names:
            raise _bad(f"duplicate file name {name!r}", path, f"{where}.file_name")
        names.add(name)
        w, h = check_positive_size(im.get("width"), im.get("height"), path=path, where=where)
        out[im["id"]] = {"rec": im, "w": w, "h": h, "rows": []}
    return out


def _numbers(v: Any, n: int, what: str, path: Any, where: str) -> list[float]:
    if not (isinstance(v, list) and len(v) == n and all(is_num(t) for t in v)):
        raise _bad(f"{what} must be a list of {n} finite numbers, got {short_repr(v)}", path, where)
    return [float(t) for t in v]


def coco_to_dataset(obj: Any, path: str | Path | None = None, *, radius_rule: str = "mean",
                    keep_outside: bool = False) -> AcneDataset:
    """An `AcneDataset` from a decoded COCO detection object (see the module docstring).
    Raises `DatasetError` naming the JSON path and value of the first bad entry."""
    if not isinstance(obj, dict):
        raise _bad(f"top level must be a JSON object, got {type(obj).__name__}", path, "$")
    for key in ("images", "annotations"):
        if not isinstance(obj.get(key), list):
            raise _bad(f"missing or not a list: {short_repr(obj.get(key))}", path, key)
    info = obj.get("info", {})
    if not isinstance(info, dict):
        raise _bad(f"must be an object, got {type(info).__name__}", path, "info")
    cats = _read_categories(obj, path)
    offset = _id_offset(obj, path)
    images = _read_images(obj["images"], path)
    seen: set[int] = set()
    for j, a in enumerate(obj["annotations"]):
        where = f"annotations[{j}]"
        if not isinstance(a, dict):
            raise _bad(f"annotation must be an object, got {short_repr(a)}", path, where)
        for key in ("id", "image_id", "category_id"):
            if type(a.get(key)) is not int:
                raise _bad(f"{key} must be an integer, got {short_repr(a.get(key))}", path, f"{where}.{key}")
        if a["id"] in seen:
            raise _bad(f"duplicate annotation id {a['id']}", path, f"{where}.id")
        seen.add(a["id"])
        if a["image_id"] not in images:
            raise _bad(f"no image with id {a['image_id']}", path, f"{where}.image_id")
        if a["category_id"] not in cats:
            raise _bad(f"no category with id {a['category_id']}", path, f"{where}.category_id")
        if a.get("iscrowd", 0) not in (0, False):
            raise _bad(f"crowd regions cannot become lesion circles, got iscrowd={short_repr(a['iscrowd'])}",
                       path, f"{where}.iscrowd")
        bx, by, bw, bh = _numbers(a.get("bbox"), 4, "bbox", path, f"{where}.bbox")
        if bw <= 0 or bh <= 0:
            side = "width" if bw <= 0 else "height"
            raise _bad(f"bbox {side} must be positive, got {short_repr(a['bbox'])}", path, f"{where}.bbox")
        extra = {k: v for k, v in a.items() if k not in _CORE}
        if "circle" in a:
            xyr = _numbers(a["circle"], 3, "circle", path, f"{where}.circle")
            if xyr[2] <= 0:
                raise _bad(f"circle radius must be positive, got {short_repr(a['circle'])}", path, f"{where}.circle")
            loc = f"{where}.circle"
        else:
            box = [bx, by, bx + bw, by + bh]
            c = Circles.from_xyxy([box], radius_rule)
            xyr = [float(c.xy[0, 0]), float(c.xy[0, 1]), float(c.radius[0])]
            extra[BOX_KEY] = [num(v) for v in box]
            loc = f"{where}.bbox"
        if "score" in a and not is_num(a["score"]):
            raise _bad(f"score must be a finite number, got {short_repr(a['score'])}", path, f"{where}.score")
        images[a["image_id"]]["rows"].append((a, xyr, cats[a["category_id"]], extra, loc))
    records = [_record(e, path, keep_outside, offset) for e in images.values()]
    if not records:
        raise _bad("dataset has no images", path, "images")
    extra_top = {k: v for k, v in obj.items() if k not in ("images", "annotations", "info", "categories")}
    if offset:
        rest = {k: v for k, v in extra_top.pop("acnekit").items() if k != "annotation_id_offset"}
        if rest:
            extra_top["acnekit"] = rest
    return AcneDataset(images=records, info=info, extra=extra_top, path=str(path) if path else None)


def _id_offset(obj: dict, path: Any) -> int:
    meta = obj.get("acnekit")
    if not isinstance(meta, dict) or "annotation_id_offset" not in meta:
        return 0
    k = meta["annotation_id_offset"]
    if type(k) is not int:
        raise _bad(f"must be an integer, got {short_repr(k)}", path, "acnekit.annotation_id_offset")
    return k


def _record(entry: dict, path: Any, keep_outside: bool, offset: int = 0) -> ImageRecord:
    im, rows = entry["rec"], entry["rows"]
    n = len(rows)
    xyr = np.array([r[1] for r in rows], dtype=np.float64).reshape(n, 3)
    has_score = n > 0 and all("score" in r[0] for r in rows)
    score = np.array([r[0]["score"] for r in rows], dtype=np.float64) if has_score else None
    names = [r[2] for r in rows]
    extras = [dict(r[3]) for r in rows]
    if not has_score:
        for r, e in zip(rows, extras):
            if "score" in r[0]:
                e["score"] = r[0]["score"]
    rec = ImageRecord(
        id=im["id"], file_name=im["file_name"], width=entry["w"], height=entry["h"],
        circles=Circles.from_xyr(xyr, score, names if any(v is not None for v in names) else None),
        ann_ids=np.array([r[0]["id"] - offset for r in rows], dtype=np.int64),
        ann_extra=extras if any(extras) else None,
        extra={k: v for k, v in im.items() if k not in _IMAGE_CORE},
    )
    if not keep_outside:
        check_inside(rec, path=path, where=[r[4] for r in rows])
    return rec


def load_coco(path: str | Path, *, radius_rule: str = "mean", keep_outside: bool = False) -> AcneDataset:
    return coco_to_dataset(read_json(path), path, radius_rule=radius_rule, keep_outside=keep_outside)


def save_coco(ds: AcneDataset, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write COCO JSON atomically; never over the dataset's own source file."""
    check_file_output(path, overwrite=overwrite, inputs=[ds.path])
    text = json.dumps(dataset_to_coco(ds), separators=(",", ":"), allow_nan=False)
    return atomic_write_text(path, text, overwrite=overwrite)
