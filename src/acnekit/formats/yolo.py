"""YOLO labels (one ``.txt`` per image) <-> `AcneDataset`.

A label line is ``class cx cy w h`` (box centre and size normalised by the image width and
height), optionally followed by a score. A circle is written as its bounding box
``[x - r, y - r, 2r, 2r]`` (or as the box it came from, when its annotation has a ``"box"``).
Reading turns each box into a circle (centre of the box, radius by ``radius_rule``) and keeps
the pixel box in the annotation's ``"box"`` field.

Folder layout written: ``labels/<image stem>.txt`` (an empty file for an image without
lesions), ``classes.txt`` (one name per line, line k = class k) and ``data.yaml``
(``names``, ``nc``). Photos are not copied.

YOLO files do not record image sizes or file names, so reading needs them: from the photos
(`sizes_from_images`) or from a reference Acne04-v2 / COCO file (`sizes_from_dataset`).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import DatasetError, short_repr
from acnekit.formats._util import BOX_KEY, UNNAMED_CLASS, check_inside, is_num, num, write_folder

SizeTable = dict[str, tuple[int, str, int, int]]  # image stem -> (image id, file name, width, height)


def _f(v: float) -> str:
    text = f"{float(v):.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def class_table(ds: AcneDataset) -> list[str]:
    """Class names in order of first appearance (circles without a name: ``"lesion"``)."""
    order: dict[str, None] = {}
    for im in ds.images:
        names = im.circles.class_name
        if names is None:
            if im.count:
                order.setdefault(UNNAMED_CLASS)
            continue
        for name in names.tolist():
            order.setdefault(UNNAMED_CLASS if name is None else name)
    return list(order)


def circles_to_yolo_lines(circles: Circles, width: int, height: int, class_ids: dict[str, int],
                          boxes: np.ndarray | None = None) -> list[str]:
    """YOLO lines for ``circles`` on a ``width`` x ``height`` image. ``boxes`` (n, 4) xyxy, when
    given, are written instead of the circles' bounding boxes. A score becomes a 6th column."""
    b = circles.to_xyxy() if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx = (b[:, 0] + b[:, 2]) / 2 / width
    cy = (b[:, 1] + b[:, 3]) / 2 / height
    bw = (b[:, 2] - b[:, 0]) / width
    bh = (b[:, 3] - b[:, 1]) / height
    names = circles.class_name
    lines = []
    for k in range(len(circles)):
        name = UNNAMED_CLASS if names is None or names[k] is None else names[k]
        parts = [str(class_ids[name]), _f(cx[k]), _f(cy[k]), _f(bw[k]), _f(bh[k])]
        if circles.score is not None:
            parts.append(_f(circles.score[k]))
        lines.append(" ".join(parts))
    return lines


def yolo_lines_to_circles(lines: list[str], width: int, height: int, class_names: list[str], *,
                          path: Any = None, radius_rule: str = "mean") -> tuple[Circles, np.ndarray]:
    """Circles (with class names, and scores when every line has one) and the (n, 4) pixel
    boxes from YOLO lines. Blank lines are allowed; anything else bad raises `DatasetError`
    naming the file, line and text."""
    rows, scores, linenos = [], [], []
    for i, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        where = f"line {i}"
        if len(parts) not in (5, 6):
            raise DatasetError(f"expected 5 numbers (class cx cy w h) or 6 (with a score), got {len(parts)}: "
                               f"{short_repr(line.strip())}", path=path, where=where)
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise DatasetError(f"not a number in {short_repr(line.strip())}", path=path, where=where) from None
        if not all(np.isfinite(vals)):
            raise DatasetError(f"non-finite number in {short_repr(line.strip())}", path=path, where=where)
        cls = vals[0]
        if not cls.is_integer() or not 0 <= cls < len(class_names):
            raise DatasetError(f"class must be an integer in 0..{len(class_names) - 1}, got {parts[0]!r}",
                               path=path, where=where)
        if vals[3] <= 0 or vals[4] <= 0:
            raise DatasetError(f"box width and height must be positive, got {parts[3]!r} {parts[4]!r}",
                               path=path, where=where)
        rows.append(vals[:5])
        scores.append(vals[5] if len(vals) == 6 else None)
        linenos.append(i)
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    cx, cy, bw, bh = a[:, 1] * width, a[:, 2] * height, a[:, 3] * width, a[:, 4] * height
    # YOLO text holds ~1e-6 relative precision at best: keep pixel boxes to 1e-4 px
    boxes = np.round(np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]), 4)
    names = [class_names[int(c)] for c in a[:, 0]]
    has_score = len(scores) > 0 and all(s is not None for s in scores)
    if any(s is not None for s in scores) and not has_score:
        k = next(i for i, s in enumerate(scores) if s is None)
        raise DatasetError("this line has no score but others have one", path=path, where=f"line {linenos[k]}")
    circles = Circles.from_xyxy(boxes, radius_rule, score=np.array(scores) if has_score else None,
                                class_name=names or None)
    return circles, boxes


def dataset_to_yolo(ds: AcneDataset) -> dict[str, str]:
    """Relative path -> text for a YOLO folder (see the module docstring)."""
    names = class_table(ds)
    ids = {n: i for i, n in enumerate(names)}
    files: dict[str, str] = {}
    for im in ds.images:
        rel = f"labels/{PurePosixPath(im.file_name).stem}.txt"
        if rel in files:
            raise DatasetError(f"two images map to the same YOLO label file {rel!r} (e.g. {im.file_name!r})",
                               path=ds.path)
        extras = im.ann_extra or [{} for _ in range(im.count)]
        boxes = im.circles.to_xyxy()
        for k, e in enumerate(extras):
            box = e.get(BOX_KEY)
            if isinstance(box, list) and len(box) == 4 and all(is_num(v) for v in box):
                boxes[k] = box
        lines = circles_to_yolo_lines(im.circles, im.width, im.height, ids, boxes)
        files[rel] = "".join(line + "\n" for line in lines)
    files["classes.txt"] = "".join(n + "\n" for n in names)
    files["data.yaml"] = ("# written by acnekit; labels/ holds one .txt per image, photos are not copied\n"
                          + yaml.safe_dump({"nc": len(names), "names": names}, sort_keys=False, allow_unicode=True))
    return files


def yolo_to_dataset(labels: dict[str, str], sizes: SizeTable, class_names: list[str], *,
                    path: Any = None, radius_rule: str = "mean", keep_outside: bool = False) -> AcneDataset:
    """A dataset from label texts (image stem -> text) and the size table. Every image in
    ``sizes`` is included (no label file = no lesions); a label without an image is an error."""
    folder = Path(path) if path is not None else Path(".")
    for stem in labels:
        if stem not in sizes:
            raise DatasetError(f"no image size for label file {stem + '.txt'!r}: no photo or reference image "
                               f"with the stem {stem!r}", path=folder / f"{stem}.txt")
    records = []
    for stem, (image_id, file_name, w, h) in sizes.items():
        text = labels.get(stem, "")
        lpath = folder / f"{stem}.txt"
        circles, boxes = yolo_lines_to_circles(text.splitlines(), w, h, class_names, path=lpath,
                                               radius_rule=radius_rule)
        extras = [{BOX_KEY: [num(v) for v in b]} for b in boxes]
        rec = ImageRecord(id=image_id, file_name=file_name, width=w, height=h, circles=circles,
                          ann_extra=extras or None)
        if not keep_outside:
            linenos = [i for i, line in enumerate(text.splitlines(), 1) if line.split()]
            check_inside(rec, path=lpath, where=[f"line {i}" for i in linenos])
        records.append(rec)
    if not records:
        raise DatasetError("no images: the size table is empty", path=path)
    return AcneDataset(images=records, path=str(path) if path is not None else None)


# ---------------------------------------------------------------------------- folder I/O
def label_folder(folder: str | Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError("not a folder, expected a YOLO folder (labels/*.txt or *.txt)", path=folder)
    return folder / "labels" if (folder / "labels").is_dir() else folder


def read_class_names(folder: str | Path) -> list[str] | None:
    """Class names from ``data.yaml`` (``names``: list or {id: name}) or ``classes.txt``; None if neither."""
    folder = Path(folder)
    for cand in (folder / "data.yaml", folder.parent / "data.yaml" if folder.name == "labels" else None):
        if cand is not None and cand.is_file():
            try:
                data = yaml.safe_load(cand.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise DatasetError(f"not valid YAML ({exc.__class__.__name__})", path=cand) from None
            names = data.get("names") if isinstance(data, dict) else None
            if isinstance(names, dict) and all(isinstance(k, int) for k in names):
                if sorted(names) != list(range(len(names))):
                    raise DatasetError(f"names ids must be 0..{len(names) - 1}, got {sorted(names)}", path=cand,
                                       where="names")
                names = [names[k] for k in range(len(names))]
            if not (isinstance(names, list) and all(isinstance(n, str) and n for n in names)):
                raise DatasetError(f"names must be a list of class names, got {short_repr(names)}", path=cand,
                                   where="names")
            return names
    for cand in (folder / "classes.txt", folder.parent / "classes.txt" if folder.name == "labels" else None):
        if cand is not None and cand.is_file():
            return [line.strip() for line in cand.read_text(encoding="utf-8").splitlines() if line.strip()]
    return None


def sizes_from_dataset(ds: AcneDataset) -> SizeTable:
    out: SizeTable = {}
    for im in ds.images:
        stem = PurePosixPath(im.file_name).stem
        if stem in out:
            raise DatasetError(f"two images share the stem {stem!r}; YOLO labels cannot tell them apart",
                               path=ds.path)
        out[stem] = (im.id, im.file_name, im.width, im.height)
    return out


def sizes_from_images(images_dir: str | Path) -> SizeTable:
    from acnekit.imageio import image_size, list_images

    out: SizeTable = {}
    for i, p in enumerate(list_images([images_dir])):
        if p.stem in out:
            raise DatasetError(f"two photos share the stem {p.stem!r}; YOLO labels cannot tell them apart", path=p)
        w, h = image_size(p)
        out[p.stem] = (i, p.name, w, h)
    return out


def load_yolo(folder: str | Path, sizes: SizeTable | None, *, radius_rule: str = "mean",
              keep_outside: bool = False) -> AcneDataset:
    lab = label_folder(folder)
    if sizes is None:
        raise DatasetError("YOLO labels do not record image sizes or file names: give the photos (--images DIR) "
                           "or a reference Acne04-v2 / COCO file (--reference FILE)", path=folder)
    skip = {"classes.txt"}
    labels = {p.stem: p.read_text(encoding="utf-8") for p in sorted(lab.glob("*.txt")) if p.name not in skip}
    names = read_class_names(folder)
    if names is None:
        top = max((int(float(line.split()[0])) for t in labels.values() for line in t.splitlines()
                   if line.split() and _intlike(line.split()[0])), default=-1)
        names = [str(k) for k in range(top + 1)]
    return yolo_to_dataset(labels, sizes, names, path=lab, radius_rule=radius_rule, keep_outside=keep_outside)


def _intlike(s: str) -> bool:
    try:
        return float(s).is_integer() and float(s) >= 0
    except ValueError:
        return False


def save_yolo(ds: AcneDataset, out: str | Path, *, overwrite: bool = False) -> Path:
    files = {k: v.encode("utf-8") for k, v in dataset_to_yolo(ds).items()}
    return write_folder(out, files, overwrite=overwrite, inputs=[ds.path], fmt="yolo")
