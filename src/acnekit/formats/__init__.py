"""Annotation formats: Acne04-v2 JSON, COCO, YOLO, Pascal VOC, CSV.

Each format module has symmetric pure functions (``dataset_to_coco`` / ``coco_to_dataset``,
``circles_to_yolo_lines`` / ``yolo_lines_to_circles``, ...) plus ``load_*`` / ``save_*``.
`read_dataset` and `write_dataset` pick the module by format name (detected from content
when not given); `convert` and `draw` use them.

Circles whose centre lies outside the recorded image (or larger than it) are refused unless
``keep_outside`` (kept unchanged) or ``fix`` (dropped, each drop reported).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from acnekit.dataset import AcneDataset, save_dataset
from acnekit.errors import DatasetError
from acnekit.formats._util import BOX_KEY, UNNAMED_CLASS
from acnekit.formats.detect import FORMATS, detect_format, json_format
from acnekit.validate import Issue, parse_dataset, read_json

__all__ = ["BOX_KEY", "FORMATS", "UNNAMED_CLASS", "detect_format", "read_dataset", "write_dataset",
           "drop_outside"]


def drop_outside(ds: AcneDataset) -> tuple[AcneDataset, list[Issue]]:
    """Drop circles whose centre lies outside their image or whose radius exceeds it."""
    issues: list[Issue] = []
    images = []
    for im in ds.images:
        c = im.circles
        ok = c.inside(im.width, im.height) & (c.radius <= max(im.width, im.height))
        if ok.all():
            images.append(im)
            continue
        for k in (~ok).nonzero()[0]:
            issues.append(Issue("annotation.outside", f"{im.file_name} circle {int(k)}", c.xyr[k].tolist(),
                                f"outside the {im.width}x{im.height} image", "annotation dropped", im.file_name))
        extra = None if im.ann_extra is None else [e for e, keep in zip(im.ann_extra, ok) if keep]
        images.append(replace(im, circles=c[ok], ann_ids=None if im.ann_ids is None else im.ann_ids[ok],
                              ann_extra=extra if extra and any(extra) else None))
    return replace(ds, images=images), issues


def read_dataset(path: str | Path, fmt: str | None = None, *, images: str | Path | None = None,
                 reference: str | Path | None = None, radius_rule: str = "mean", fix: bool = False,
                 keep_outside: bool = False) -> tuple[AcneDataset, list[Issue]]:
    """Read an annotation file or folder in any format. Returns the dataset and the repairs
    made (only with ``fix``). YOLO needs ``images`` (photos) or ``reference`` (a file with
    the images' names and sizes)."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise DatasetError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    lenient = keep_outside or fix
    obj = None
    if fmt is None:
        if path.is_file() and path.suffix.lower() in (".json", ""):
            obj = read_json(path)
            fmt = json_format(obj, path)
        else:
            fmt = detect_format(path)
    if fmt == "acne04v2":
        ds, issues = parse_dataset(read_json(path) if obj is None else obj, path=str(path), fix=fix,
                                   keep_outside=keep_outside)
        return ds, issues
    if fmt == "coco":
        from acnekit.formats.coco import coco_to_dataset

        ds = coco_to_dataset(read_json(path) if obj is None else obj, path, radius_rule=radius_rule,
                             keep_outside=lenient)
    elif fmt == "voc":
        from acnekit.formats.voc import load_voc

        ds = load_voc(path, radius_rule=radius_rule, keep_outside=lenient)
    elif fmt == "csv":
        from acnekit.formats.csv import load_csv

        ds = load_csv(path, keep_outside=lenient)
    else:
        from acnekit.formats import yolo

        sizes = None
        if images is not None:
            sizes = yolo.sizes_from_images(images)
        elif reference is not None:
            ref, _ = read_dataset(reference, keep_outside=True)
            sizes = yolo.sizes_from_dataset(ref)
        ds = yolo.load_yolo(path, sizes, radius_rule=radius_rule, keep_outside=lenient)
    if fix and not keep_outside:
        return drop_outside(ds)
    return ds, []


def write_dataset(ds: AcneDataset, fmt: str, out: str | Path, *, overwrite: bool = False,
                  inputs: list[str | Path | None] | None = None) -> Path:
    """Write ``ds`` in format ``fmt`` atomically (files: temp file + rename; folders: temp
    folder + rename). Never writes over ``ds.path`` or any of ``inputs``."""
    from acnekit.formats._util import check_file_output

    inputs = [ds.path, *(inputs or [])]
    if fmt in ("yolo", "voc"):
        from acnekit.formats._util import write_folder

        if fmt == "yolo":
            from acnekit.formats.yolo import dataset_to_yolo as to_files
        else:
            from acnekit.formats.voc import dataset_to_voc as to_files
        files = {k: v.encode("utf-8") for k, v in to_files(ds).items()}
        return write_folder(out, files, overwrite=overwrite, inputs=inputs, fmt=fmt)
    check_file_output(out, overwrite=overwrite, inputs=inputs)
    if fmt == "acne04v2":
        return save_dataset(ds, out, overwrite=overwrite)
    if fmt == "coco":
        from acnekit.formats.coco import save_coco

        return save_coco(ds, out, overwrite=overwrite)
    if fmt == "csv":
        from acnekit.formats.csv import save_csv

        return save_csv(ds, out, overwrite=overwrite)
    raise DatasetError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
