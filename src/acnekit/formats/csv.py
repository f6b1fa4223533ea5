"""CSV (one row per lesion) <-> `AcneDataset`.

Columns: ``file_name, width, height, x, y, radius, score, class_name, image_id, id``. The
image size is on every row so the file stands alone; an image without lesions is one row
with empty ``x, y, radius``. Required on reading: ``file_name, width, height, x, y,
radius``; ``score`` and ``class_name`` may be empty; without ``image_id`` / ``id`` images and
lesions are numbered in row order. Other columns are kept as annotation fields (text).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from acnekit.atomic import atomic_write_text
from acnekit.circles import Circles
from acnekit.csvsafe import csv_text, unescape_cell
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import DatasetError, short_repr
from acnekit.formats._util import check_file_output, check_inside, fmt, parse_float
from acnekit.validate import bad_file_name, read_input_bytes

COLUMNS = ("file_name", "width", "height", "x", "y", "radius", "score", "class_name", "image_id", "id")
REQUIRED = ("file_name", "width", "height", "x", "y", "radius")


def dataset_to_csv_rows(ds: AcneDataset) -> list[list[str]]:
    """Header row then one row per lesion (one row with empty x, y, radius per empty image)."""
    rows = [list(COLUMNS)]
    for im in ds.images:
        head = [im.file_name, str(im.width), str(im.height)]
        c = im.circles
        if not len(c):
            rows.append(head + ["", "", "", "", "", str(im.id), ""])
            continue
        extras = im.ann_extra or [{} for _ in range(len(c))]
        ids = im.ann_ids
        for k in range(len(c)):
            score = c.score[k] if c.score is not None else extras[k].get("score")
            name = None if c.class_name is None else c.class_name[k]
            rows.append(head + [fmt(c.xy[k, 0]), fmt(c.xy[k, 1]), fmt(c.radius[k]),
                                "" if score is None else fmt(score), "" if name is None else name,
                                str(im.id), "" if ids is None else str(int(ids[k]))])
    return rows


def dataset_to_csv(ds: AcneDataset) -> str:
    """CSV text; cells a spreadsheet would run as formulas are escaped (`acnekit.csvsafe`)."""
    return csv_text(dataset_to_csv_rows(ds))


def _int(text: str, *, path: Any, where: str, what: str) -> int:
    v = parse_float(text, path=path, where=where, what=what)
    if not v.is_integer():
        raise DatasetError(f"{what} must be an integer, got {short_repr(text)}", path=path, where=where)
    return int(v)


def csv_to_dataset(text: str, path: str | Path | None = None, *, keep_outside: bool = False) -> AcneDataset:
    """A dataset from CSV text; `DatasetError` names the file, line, column and value."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DatasetError(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
                           f"the header has {short_repr(header, 200)}", path=path, where="line 1")
    others = [c for c in header if c not in COLUMNS]
    images: dict[str, dict] = {}
    used_ids: set[int] = set()
    for row in reader:
        line = reader.line_num
        row = {k: unescape_cell(v) if isinstance(v, str) else v for k, v in row.items()}
        if None in row:
            raise DatasetError(f"more cells than columns: {short_repr(row[None])}", path=path, where=f"line {line}")
        if any(row.get(c) is None for c in REQUIRED):
            raise DatasetError("fewer cells than columns", path=path, where=f"line {line}")

        def where(col: str) -> str:
            return f"line {line}, column {col!r}"

        name = row["file_name"].strip()
        if (why := bad_file_name(name)) is not None:
            raise DatasetError(f"{why}, got {short_repr(name)}", path=path, where=where("file_name"))
        w = _int(row["width"], path=path, where=where("width"), what="width")
        h = _int(row["height"], path=path, where=where("height"), what="height")
        for col, v in (("width", w), ("height", h)):
            if v <= 0:
                raise DatasetError(f"{col} must be positive, got {v}", path=path, where=where(col))
        img_id = row.get("image_id", "").strip()
        entry = images.get(name)
        if entry is None:
            iid = _int(img_id, path=path, where=where("image_id"), what="image_id") if img_id else None
            entry = images[name] = {"w": w, "h": h, "id": iid, "rows": []}
        elif (entry["w"], entry["h"]) != (w, h):
            raise DatasetError(f"size {w}x{h} differs from {entry['w']}x{entry['h']} on an earlier row for "
                               f"{name!r}", path=path, where=where("width"))
        cells = [row[c].strip() for c in ("x", "y", "radius")]
        if not any(cells):
            continue  # an image without lesions (or a marker row)
        x, y, r = (parse_float(row[c], path=path, where=where(c), what=c) for c in ("x", "y", "radius"))
        if r <= 0:
            raise DatasetError(f"radius must be positive, got {short_repr(row['radius'])}", path=path,
                               where=where("radius"))
        s = row.get("score", "").strip()
        score = parse_float(s, path=path, where=where("score"), what="score") if s else None
        ann = row.get("id", "").strip()
        aid = _int(ann, path=path, where=where("id"), what="id") if ann else None
        if aid is not None:
            if aid in used_ids:
                raise DatasetError(f"duplicate id {aid}", path=path, where=where("id"))
            used_ids.add(aid)
        extra = {c: row[c] for c in others if row.get(c)}
        entry["rows"].append((x, y, r, score, row.get("class_name", "").strip() or None, aid, extra, line))
    if not images:
        raise DatasetError("no rows", path=path)
    return AcneDataset(images=_records(images, used_ids, path, keep_outside), path=str(path) if path else None)


def _records(images: dict[str, dict], used_ids: set[int], path: Any, keep_outside: bool) -> list[ImageRecord]:
    taken: set[int] = set()
    for name, e in images.items():
        if e["id"] in taken:
            raise DatasetError(f"image_id {e['id']} is used by two file names (the second: {name!r})", path=path)
        if e["id"] is not None:
            taken.add(e["id"])
    next_img = max(taken, default=-1) + 1
    next_ann = max(used_ids, default=-1) + 1
    records = []
    for name, e in images.items():
        iid = e["id"]
        if iid is None:
            iid, next_img = next_img, next_img + 1
        rows = e["rows"]
        n = len(rows)
        xyr = np.array([r[:3] for r in rows], dtype=np.float64).reshape(n, 3)
        has_score = n > 0 and all(r[3] is not None for r in rows)
        extras = [dict(r[6]) for r in rows]
        if not has_score:
            for r, ex in zip(rows, extras):
                if r[3] is not None:
                    ex["score"] = r[3]
        ids = []
        for r in rows:
            if r[5] is None:
                ids.append(next_ann)
                next_ann += 1
            else:
                ids.append(r[5])
        names = [r[4] for r in rows]
        rec = ImageRecord(
            id=iid, file_name=name, width=e["w"], height=e["h"],
            circles=Circles.from_xyr(xyr, np.array([r[3] for r in rows]) if has_score else None,
                                     names if any(v is not None for v in names) else None),
            ann_ids=np.array(ids, dtype=np.int64), ann_extra=extras if any(extras) else None)
        if not keep_outside:
            check_inside(rec, path=path, where=[f"line {r[7]}" for r in rows])
        records.append(rec)
    return records


def load_csv(path: str | Path, *, keep_outside: bool = False) -> AcneDataset:
    path = Path(path)
    try:
        text = read_input_bytes(path, "CSV file").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("not UTF-8 text", path=path) from None
    if not text.strip():
        raise DatasetError("file is empty, expected CSV with a header row", path=path)
    try:
        return csv_to_dataset(text, path, keep_outside=keep_outside)
    except csv.Error as exc:
        raise DatasetError(f"broken CSV: {exc}", path=path) from None


def save_csv(ds: AcneDataset, path: str | Path, *, overwrite: bool = False) -> Path:
    check_file_output(path, overwrite=overwrite, inputs=[ds.path])
    return atomic_write_text(path, dataset_to_csv(ds), overwrite=overwrite)
