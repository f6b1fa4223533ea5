"""Parse and validate Acne04-v2 JSON.

Every problem becomes an `Issue` naming the JSON path and the value. Strict mode raises a
`DatasetError` for the first class of problem found (with how many there are); fix mode
applies the repair each issue describes and returns the list of repairs.

One pass over images and one over annotations: linear in the file size.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from acnekit.circles import Circles
from acnekit.dataset import ANNOTATION_KEYS, IMAGE_KEYS, AcneDataset, ImageRecord
from acnekit.errors import DatasetError, short_repr


@dataclass(frozen=True)
class Issue:
    code: str  # class of problem, e.g. "annotation.outside"
    where: str  # JSON path, e.g. "annotations[17].radius"
    value: Any
    message: str
    repair: str  # what fix mode does about it
    image: str | None = None  # file name of the image concerned, when known

    def describe(self) -> str:
        img = f" [{self.image}]" if self.image else ""
        return f"{self.where} = {short_repr(self.value)}: {self.message}{img} -> {self.repair}"


def _is_int(v: Any) -> bool:
    return type(v) is int


_INT64 = 2**63
_ANN_KEYS = frozenset(ANNOTATION_KEYS)


def _nonfinite(v: Any) -> bool:
    """True when ``v`` holds NaN or +-Infinity anywhere (JSON cannot write them back)."""
    if type(v) is float:
        return not math.isfinite(v)
    if isinstance(v, list):
        return any(_nonfinite(x) for x in v)
    if isinstance(v, dict):
        return any(_nonfinite(x) for x in v.values())
    return False


def _finite_fields(obj: dict, where: str, skip: frozenset | tuple, issues: list, code: str,
                   image: str | None = None) -> dict:
    """``obj`` without its unknown fields that hold NaN/Infinity (one issue each)."""
    bad = [k for k, v in obj.items() if k not in skip and _nonfinite(v)]
    for k in bad:
        issues.append(Issue(code, f"{where}.{k}", obj[k], "NaN or Infinity cannot be saved as JSON",
                            "field removed", image))
    return {k: v for k, v in obj.items() if k not in bad} if bad else obj


def _is_num(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and math.isfinite(v)


def bad_file_name(name: Any) -> str | None:
    """Why ``name`` is not a plain file name, or None when it is."""
    if not isinstance(name, str) or not name.strip():
        return "file_name must be a non-empty string"
    if "/" in name or "\\" in name:
        return "file_name must be a bare name without a path separator"
    if name in (".", "..") or ".." in PurePosixPath(name).parts:
        return "file_name must not contain '..'"
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return "file_name must not be an absolute path"
    return None


def read_input_bytes(path: str | Path, kind: str = "file") -> bytes:
    """The bytes of an input annotation file, or one clear `DatasetError` naming it."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError("file not found", path=path) from None
    except IsADirectoryError:
        raise DatasetError(f"is a folder, expected a {kind}", path=path) from None
    except OSError as exc:
        raise DatasetError(f"cannot read ({exc.strerror})", path=path) from None


def read_json(path: str | Path) -> Any:
    path = Path(path)
    raw = read_input_bytes(path, "JSON file")
    if not raw.strip():
        raise DatasetError("file is empty, expected JSON", path=path)
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise DatasetError("not JSON: not UTF-8 text", path=path) from None
    except json.JSONDecodeError as exc:
        what = "truncated JSON" if exc.pos >= len(raw.rstrip()) - 1 else "not valid JSON"
        raise DatasetError(f"{what}: {exc.msg} at line {exc.lineno} column {exc.colno}", path=path) from None


def load_validated(path: str | Path, *, fix: bool = False,
                   keep_outside: bool = False) -> tuple[AcneDataset, list[Issue]]:
    return parse_dataset(read_json(path), path=str(path), fix=fix, keep_outside=keep_outside)


def parse_dataset(obj: Any, *, path: str | None = None, fix: bool = False,
                  keep_outside: bool = False) -> tuple[AcneDataset, list[Issue]]:
    """Validate a decoded Acne04-v2 object. Returns the dataset and the issues found (all of
    them repaired when ``fix``); in strict mode any issue raises `DatasetError`.

    ``keep_outside=True`` skips the two plausibility checks (centre outside the image,
    radius larger than the image) so well-formed but implausible circles are kept as
    they are, e.g. to convert a published file to another format without changing it."""
    if not isinstance(obj, dict):
        raise DatasetError(f"top level must be a JSON object, got {type(obj).__name__}", path=path, where="$")
    for key in ("images", "annotations"):
        if key not in obj:
            raise DatasetError(f"missing required key {key!r}", path=path, where="$")
        if not isinstance(obj[key], list):
            raise DatasetError(f"must be a list, got {type(obj[key]).__name__}", path=path, where=key)
    info = obj.get("info", {})
    if not isinstance(info, dict):
        raise DatasetError(f"must be an object, got {type(info).__name__}", path=path, where="info")
    issues: list[Issue] = []
    info = _finite_fields(info, "info", (), issues, "file.nonfinite")
    top = _finite_fields(obj, "$", ("images", "annotations", "info"), issues, "file.nonfinite")
    images = _parse_images(obj["images"], issues)
    records = _parse_annotations(obj["annotations"], images, issues, keep_outside)
    if not fix and issues:
        raise DatasetError(_strict_message(issues, obj), path=path)
    extra = {k: v for k, v in top.items() if k not in ("images", "annotations", "info")}
    ds = AcneDataset(images=records, info=info, extra=extra, path=path)
    if not ds.images:
        raise DatasetError("dataset has no images", path=path, where="images")
    return ds, issues


def _strict_message(issues: list[Issue], obj: dict) -> str:
    first = issues[0]
    same = [i for i in issues if i.code == first.code]
    msg = f"{first.where} = {short_repr(first.value)}: {first.message}"
    if first.image and first.code.startswith("annotation."):
        in_image = sum(1 for i in same if i.image == first.image)
        ids = {im.get("id") for im in obj["images"] if isinstance(im, dict) and im.get("file_name") == first.image}
        total = sum(1 for a in obj["annotations"] if isinstance(a, dict) and a.get("image_id") in ids)
        msg += f" ({in_image} of the {total} circles of {first.image!r} have this problem"
        n_img = len({i.image for i in same})
        msg += ")" if n_img == 1 else f"; {len(same)} in {n_img} images)"
    elif len(same) > 1:
        msg += f" ({len(same)} such problems)"
    if len(issues) > len(same):
        msg += f"; {len(issues)} problems in all"
    return msg + "; run `acnekit validate FILE --fix OUT.json` to repair"


def _parse_images(items: list, issues: list[Issue]) -> dict[int, dict]:
    """Valid images by id (file order kept); bad records are reported and left out."""
    out: dict[int, dict] = {}
    names: set[str] = set()
    for i, im in enumerate(items):
        where = f"images[{i}]"
        if not isinstance(im, dict):
            issues.append(Issue("image.not_object", where, im, "image must be an object", "image dropped"))
            continue
        name = im.get("file_name")
        label = name if isinstance(name, str) else None
        problem = None
        if not _is_int(im.get("id")):
            problem = (f"{where}.id", im.get("id"), "id must be an integer")
        elif (why := bad_file_name(name)) is not None:
            problem = (f"{where}.file_name", name, why)
        else:
            for key in ("width", "height"):
                v = im.get(key)
                if not _is_int(v) or v <= 0:
                    problem = (f"{where}.{key}", v, f"{key} must be a positive integer")
                    break
        if problem is not None:
            issues.append(Issue("image.field", problem[0], problem[1], problem[2], "image and its circles dropped", label))
            continue
        if im["id"] in out:
            issues.append(
                Issue("image.duplicate_id", f"{where}.id", im["id"], "duplicate image id", "later image dropped", name)
            )
            continue
        if name in names:
            issues.append(
                Issue("image.duplicate_name", f"{where}.file_name", name, "duplicate file name",
                      "later image and its circles dropped", name)
            )
            out[im["id"]] = {"dropped": True, "file_name": name}
            continue
        names.add(name)
        im = _finite_fields(im, where, IMAGE_KEYS, issues, "image.nonfinite", name)
        out[im["id"]] = {
            "rec": im,
            "anns": [],
        }
    return out


def _parse_annotations(items: list, images: dict[int, dict], issues: list[Issue],
                       keep_outside: bool = False) -> list[ImageRecord]:
    seen_ids: set[int] = set()
    max_id = max((a["id"] for a in items if isinstance(a, dict) and _is_int(a.get("id")) and a["id"] < _INT64 - 1),
                 default=-1)
    for j, a in enumerate(items):
        where = f"annotations[{j}]"
        if not isinstance(a, dict):
            issues.append(Issue("annotation.not_object", where, a, "annotation must be an object", "annotation dropped"))
            continue
        ann_id, img_id = a.get("id"), a.get("image_id")
        if not _is_int(ann_id) or not -_INT64 <= ann_id < _INT64:
            issues.append(Issue("annotation.id", f"{where}.id", ann_id, "id must be a 64-bit integer",
                                "annotation dropped"))
            continue
        if not _is_int(img_id):
            issues.append(Issue("annotation.image_id", f"{where}.image_id", img_id, "image_id must be an integer",
                                "annotation dropped"))
            continue
        entry = images.get(img_id)
        if entry is None or entry.get("dropped"):
            issues.append(Issue("annotation.missing_image", f"{where}.image_id", img_id,
                                "no valid image with this id", "annotation dropped"))
            continue
        im = entry["rec"]
        name = im["file_name"]
        xy = a.get("coordinates")
        if not (isinstance(xy, list) and len(xy) == 2 and _is_num(xy[0]) and _is_num(xy[1])):
            issues.append(Issue("annotation.coordinates", f"{where}.coordinates", xy,
                                "coordinates must be two finite numbers [x, y]", "annotation dropped", name))
            continue
        r = a.get("radius")
        if not _is_num(r) or r <= 0:
            issues.append(Issue("annotation.radius", f"{where}.radius", r, "radius must be a positive finite number",
                                "annotation dropped", name))
            continue
        if "score" in a and not _is_num(a["score"]):
            issues.append(Issue("annotation.score", f"{where}.score", a["score"], "score must be a finite number",
                                "annotation dropped", name))
            continue
        if "class_name" in a and not isinstance(a["class_name"], str):
            issues.append(Issue("annotation.class_name", f"{where}.class_name", a["class_name"],
                                "class_name must be a string", "annotation dropped", name))
            continue
        if not _ANN_KEYS.issuperset(a):
            a = _finite_fields(a, where, _ANN_KEYS, issues, "annotation.nonfinite", name)
        w, h = im["width"], im["height"]
        if not keep_outside and not (0 <= xy[0] <= w and 0 <= xy[1] <= h):
            issues.append(Issue("annotation.outside", f"{where}.coordinates", xy,
                                f"centre lies outside the {w}x{h} image {name!r}", "annotation dropped", name))
            continue
        if not keep_outside and r > max(w, h):
            issues.append(Issue("annotation.radius_too_large", f"{where}.radius", r,
                                f"radius larger than the {w}x{h} image {name!r}", "annotation dropped", name))
            continue
        if ann_id in seen_ids:
            max_id += 1
            issues.append(Issue("annotation.duplicate_id", f"{where}.id", ann_id, "duplicate annotation id",
                                f"given new id {max_id}", name))
            a = {**a, "id": max_id}
        seen_ids.add(a["id"])
        entry["anns"].append(a)
    issues.sort(key=_issue_order)
    return [_record(e) for e in images.values() if not e.get("dropped")]


_ORDER = ["image.", "annotation.not_object", "annotation.id", "annotation.image_id", "annotation.missing_image",
          "annotation.coordinates", "annotation.radius", "annotation.score", "annotation.class_name",
          "annotation.duplicate_id", "annotation.outside", "annotation.radius_too_large"]


def _issue_order(issue: Issue) -> int:
    for k, prefix in enumerate(_ORDER):
        if issue.code.startswith(prefix) and (prefix.endswith(".") or issue.code == prefix):
            return k
    return len(_ORDER)


def _record(entry: dict) -> ImageRecord:
    im, anns = entry["rec"], entry["anns"]
    n = len(anns)
    xy = np.array([a["coordinates"] for a in anns], dtype=np.float64).reshape(n, 2)
    radius = np.array([a["radius"] for a in anns], dtype=np.float64)
    has_score = n > 0 and all("score" in a for a in anns)
    score = np.array([a["score"] for a in anns], dtype=np.float64) if has_score else None
    names = [a.get("class_name") for a in anns]
    class_name = names if any(v is not None for v in names) else None
    skip = set(ANNOTATION_KEYS) if has_score else set(ANNOTATION_KEYS) - {"score"}
    extra = [{k: v for k, v in a.items() if k not in skip} for a in anns]
    return ImageRecord(
        id=im["id"],
        file_name=im["file_name"],
        width=im["width"],
        height=im["height"],
        circles=Circles(xy, radius, score, class_name),
        ann_ids=np.array([a["id"] for a in anns], dtype=np.int64),
        ann_extra=extra if any(extra) else None,
        extra={k: v for k, v in im.items() if k not in IMAGE_KEYS},
    )


def group_repairs(issues: list[Issue]) -> dict[str, int]:
    """Number of repairs per class of problem."""
    counts: dict[str, int] = defaultdict(int)
    for i in issues:
        counts[i.code] += 1
    return dict(counts)
