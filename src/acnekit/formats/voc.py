"""Pascal VOC XML (one file per image) <-> `AcneDataset`.

Reading: each ``<object>`` box ``[xmin, ymin, xmax, ymax]`` becomes a circle (centre of the
box, radius by ``radius_rule``, see `Circles.from_xyxy`) with the object's ``<name>`` as class
name; the box itself is kept in the annotation's ``"box"`` field, so tools (e.g. `draw`) know
the set came from boxes. Images get ids 0..n-1 in sorted XML file order.

Writing: one ``<name stem>.xml`` per image, boxes from the ``"box"`` field when present,
else the circle's bounding box. The exact circle and a score are written in extra
``<circle><x/><y/><r/></circle>`` and ``<score>`` elements (ignored by VOC tools), which the
reader uses when present, so dataset -> VOC -> dataset keeps circles and scores.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import DatasetError, short_repr
from acnekit.formats._util import (BOX_KEY, UNNAMED_CLASS, check_box, check_inside, check_positive_size, fmt, is_num,
                                   num, parse_float, write_folder)
from acnekit.validate import bad_file_name

_BOX = ("xmin", "ymin", "xmax", "ymax")


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def record_to_voc_xml(rec: ImageRecord) -> str:
    """One image as VOC XML text."""
    root = ET.Element("annotation")
    _sub(root, "folder", "")
    _sub(root, "filename", rec.file_name)
    size = _sub(root, "size")
    _sub(size, "width", rec.width)
    _sub(size, "height", rec.height)
    _sub(size, "depth", 3)
    _sub(root, "segmented", 0)
    c = rec.circles
    boxes = c.to_xyxy()
    extras = rec.ann_extra or [{} for _ in range(len(c))]
    for k in range(len(c)):
        obj = _sub(root, "object")
        name = None if c.class_name is None else c.class_name[k]
        _sub(obj, "name", UNNAMED_CLASS if name is None else name)
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", 0)
        _sub(obj, "difficult", int(bool(extras[k].get("difficult", 0))))
        box = extras[k].get(BOX_KEY)
        if not (isinstance(box, list) and len(box) == 4 and all(is_num(v) for v in box)):
            box = boxes[k]
        bnd = _sub(obj, "bndbox")
        for tag, v in zip(_BOX, box):
            _sub(bnd, tag, fmt(v))
        circ = _sub(obj, "circle")
        for tag, v in zip("xyr", c.xyr[k]):
            _sub(circ, tag, fmt(v))
        if c.score is not None:
            _sub(obj, "score", fmt(c.score[k]))
    ET.indent(root, space="\t")
    return ET.tostring(root, encoding="unicode") + "\n"


def xml_name(file_name: str) -> str:
    return PurePosixPath(file_name).stem + ".xml"


def dataset_to_voc(ds: AcneDataset) -> dict[str, str]:
    """XML file name -> XML text, one per image."""
    out: dict[str, str] = {}
    for im in ds.images:
        name = xml_name(im.file_name)
        if name in out:
            raise DatasetError(f"two images map to the same VOC file {name!r} (e.g. {im.file_name!r})", path=ds.path)
        out[name] = record_to_voc_xml(im)
    return out


def _text(el: ET.Element, tag: str, path: Path, where: str) -> str:
    found = el.find(tag)
    if found is None or found.text is None or not found.text.strip():
        raise DatasetError(f"missing <{tag}>", path=path, where=where)
    return found.text.strip()


def voc_xml_to_record(text: str | bytes, path: Path, image_id: int, *, radius_rule: str = "mean",
                      keep_outside: bool = False) -> ImageRecord:
    """One VOC XML document as an `ImageRecord` (``path`` names the file in errors)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, col = exc.position
        raise DatasetError(f"broken XML: {exc.msg if hasattr(exc, 'msg') else exc}", path=path,
                           where=f"line {line}, column {col + 1}") from None
    if root.tag != "annotation":
        raise DatasetError(f"root element must be <annotation>, got <{root.tag}>", path=path, where="/")
    file_name = _text(root, "filename", path, "annotation")
    if (why := bad_file_name(file_name)) is not None:
        raise DatasetError(f"{why}, got {short_repr(file_name)}", path=path, where="annotation/filename")
    size = root.find("size")
    if size is None:
        raise DatasetError("missing <size>", path=path, where="annotation")
    wh = [parse_float(_text(size, t, path, "annotation/size"), path=path, where=f"annotation/size/{t}", what=t)
          for t in ("width", "height")]
    w, h = check_positive_size(wh[0], wh[1], path=path, where="annotation/size")
    xyr, names, extras, wheres, scores = [], [], [], [], []
    for k, obj in enumerate(root.findall("object")):
        where = f"annotation/object[{k + 1}]"
        names.append(_text(obj, "name", path, where))
        bnd = obj.find("bndbox")
        if bnd is None:
            raise DatasetError("missing <bndbox>", path=path, where=where)
        box = [parse_float(_text(bnd, t, path, f"{where}/bndbox"), path=path, where=f"{where}/bndbox/{t}", what=t)
               for t in _BOX]
        check_box(box, path=path, where=f"{where}/bndbox")
        extra: dict[str, Any] = {BOX_KEY: [num(v) for v in box]}
        diff = obj.findtext("difficult")
        if diff is not None and diff.strip() not in ("", "0"):
            extra["difficult"] = 1
        circ = obj.find("circle")
        if circ is not None:
            c = [parse_float(_text(circ, t, path, f"{where}/circle"), path=path, where=f"{where}/circle/{t}", what=t)
                 for t in "xyr"]
            if c[2] <= 0:
                raise DatasetError(f"circle radius must be positive, got {num(c[2])}", path=path,
                                   where=f"{where}/circle/r")
        else:
            cc = Circles.from_xyxy([box], radius_rule)
            c = [cc.xy[0, 0], cc.xy[0, 1], cc.radius[0]]
        s = obj.findtext("score")
        scores.append(None if s is None else parse_float(s, path=path, where=f"{where}/score", what="score"))
        xyr.append(c)
        extras.append(extra)
        wheres.append(f"{where}/bndbox")
    n = len(xyr)
    has_score = n > 0 and all(s is not None for s in scores)
    if not has_score:
        for e, s in zip(extras, scores):
            if s is not None:
                e["score"] = s
    rec = ImageRecord(
        id=image_id, file_name=file_name, width=w, height=h,
        circles=Circles.from_xyr(np.array(xyr, dtype=np.float64).reshape(n, 3),
                                 np.array(scores, dtype=np.float64) if has_score else None, names or None),
        ann_extra=extras or None,
    )
    if not keep_outside:
        check_inside(rec, path=path, where=wheres)
    return rec


def voc_xml_files(folder: str | Path) -> list[Path]:
    """The XML files of a VOC folder (or of its ``Annotations/`` subfolder), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError("not a folder, expected a folder of VOC XML files", path=folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".xml" and p.is_file())
    if not files and (folder / "Annotations").is_dir():
        return voc_xml_files(folder / "Annotations")
    if not files:
        raise DatasetError("no .xml files in folder", path=folder)
    return files


def load_voc(folder: str | Path, *, radius_rule: str = "mean", keep_outside: bool = False) -> AcneDataset:
    records: list[ImageRecord] = []
    seen: dict[str, Path] = {}
    for i, f in enumerate(voc_xml_files(folder)):
        rec = voc_xml_to_record(f.read_bytes(), f, i, radius_rule=radius_rule, keep_outside=keep_outside)
        if rec.file_name in seen:
            raise DatasetError(f"file name {rec.file_name!r} is also named in {seen[rec.file_name].name}", path=f,
                               where="annotation/filename")
        seen[rec.file_name] = f
        records.append(rec)
    return AcneDataset(images=records, path=str(folder))


def save_voc(ds: AcneDataset, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write a folder of VOC XML files atomically (temp folder, then rename)."""
    files = {name: text.encode("utf-8") for name, text in dataset_to_voc(ds).items()}
    return write_folder(out, files, overwrite=overwrite, inputs=[ds.path], fmt="voc")
