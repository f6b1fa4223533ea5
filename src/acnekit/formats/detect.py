"""Tell an annotation input's format from its content.

- a JSON file whose annotations have ``coordinates`` -> ``acne04v2``; with ``bbox`` -> ``coco``
  (no annotations: ``coco`` when it has ``categories``, else ``acne04v2``);
- a ``.csv`` file, or text whose first line has a ``file_name`` column -> ``csv``;
- a folder of ``.xml`` files (or with an ``Annotations/`` subfolder of them) -> ``voc``;
- a folder with ``labels/``, ``data.yaml``, ``classes.txt`` or ``.txt`` files -> ``yolo``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acnekit.errors import DatasetError, short_repr

FORMATS = ("acne04v2", "coco", "yolo", "voc", "csv")


def json_format(obj: Any, path: Any = None) -> str:
    """``acne04v2`` or ``coco`` for a decoded JSON object."""
    if not isinstance(obj, dict) or not isinstance(obj.get("annotations"), list):
        raise DatasetError("not an annotation file: expected a JSON object with an 'annotations' list",
                           path=path, where="$")
    for i, a in enumerate(obj["annotations"]):
        if isinstance(a, dict):
            if "coordinates" in a:
                return "acne04v2"
            if "bbox" in a:
                return "coco"
            raise DatasetError(f"cannot tell the format: annotation has neither 'coordinates' (Acne04-v2) nor "
                               f"'bbox' (COCO); keys {short_repr(sorted(a))}", path=path, where=f"annotations[{i}]")
    return "coco" if "categories" in obj else "acne04v2"


def folder_format(path: Path) -> str:
    names = [p.name for p in path.iterdir()]
    if any(n.lower().endswith(".xml") for n in names) or (path / "Annotations").is_dir():
        return "voc"
    if (path / "labels").is_dir() or "data.yaml" in names or "classes.txt" in names \
            or any(n.lower().endswith(".txt") for n in names):
        return "yolo"
    raise DatasetError("cannot tell the format of this folder: no .xml files (VOC) and no labels/, data.yaml, "
                       "classes.txt or .txt files (YOLO); name it with --from", path=path)


def detect_format(path: str | Path) -> str:
    """The format name of the file or folder at ``path`` (one of `FORMATS`)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError("file not found", path=path)
    if path.is_dir():
        return folder_format(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".xml":
        raise DatasetError("a single VOC XML file: give the folder that holds the .xml files", path=path)
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix == ".json" or head.startswith((b"{", b"[")):
        from acnekit.validate import read_json

        return json_format(read_json(path), path)
    first = head.split(b"\n", 1)[0]
    if b"," in first and b"file_name" in first:
        return "csv"
    raise DatasetError("cannot tell the format: not JSON, and not CSV with a file_name column; "
                       "name it with --from", path=path)
