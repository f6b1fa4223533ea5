"""Reproducible stratified splits (train/val by a fraction, or k folds) of an Acne04-v2 dataset.

Units of assignment are groups of images that must stay together (byte-identical photos
when the photos are known; otherwise each image alone). Within each stratum (the filename
grade, the Hayashi grade of the count, or one stratum for all), units are shuffled by the
seed, then placed largest first into the part furthest below its target share of that
stratum (ties: the part furthest below its overall target, then a seeded random draw). The
result depends only on the seed and the set of file names, not on their order in the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acnekit.atomic import check_output, write_tree
from acnekit.dataset import AcneDataset
from acnekit.errors import DatasetError, OutputError
from acnekit.grading import HAYASHI_UPPER, filename_grade, hayashi_grade
from acnekit.photohash import groups_from_pairs

STRATIFY = ("grade", "hayashi", "none")


def strata_labels(ds: AcneDataset, stratify: str, bands=HAYASHI_UPPER) -> list[str]:
    """One label per image: ``grade`` = filename prefix ``levleN`` (the Hayashi grade of the
    count for names without a prefix), ``hayashi`` = Hayashi grade of the count, ``none``."""
    if stratify not in STRATIFY:
        raise ValueError(f"stratify must be one of {STRATIFY}, got {stratify!r}")
    if stratify == "none":
        return ["all"] * len(ds)
    hay = hayashi_grade(ds.counts(), bands).tolist()
    labels = []
    for im, h in zip(ds.images, hay):
        g = filename_grade(im.file_name) if stratify == "grade" else None
        labels.append(f"levle{g}" if g is not None else f"hayashi{h}")
    return labels


@dataclass
class Split:
    part_names: list[str]  # e.g. ["train", "val"] or ["fold0", ..., "fold4"]
    part_of: np.ndarray  # (n_images,) part index of each image, dataset order
    labels: list[str]  # stratum of each image
    groups: list[list[str]]  # multi-image units kept together (file names)

    def names(self, ds: AcneDataset, part: int) -> list[str]:
        return [im.file_name for im, p in zip(ds.images, self.part_of.tolist()) if p == part]

    def table(self, ds: AcneDataset) -> dict:
        """{part: {"images", "lesions", "by_stratum": {label: images}}}."""
        counts = ds.counts()
        out = {}
        for k, name in enumerate(self.part_names):
            sel = self.part_of == k
            by: dict[str, int] = {}
            for lab, s in zip(self.labels, sel.tolist()):
                if s:
                    by[lab] = by.get(lab, 0) + 1
            out[name] = {"images": int(sel.sum()), "lesions": int(counts[sel].sum()), "by_stratum": dict(sorted(by.items()))}
        return out


def make_split(ds: AcneDataset, *, folds: int | None = None, val_fraction: float | None = None,
               stratify: str = "grade", seed: int = 0, groups: list[list[str]] | None = None,
               bands=HAYASHI_UPPER) -> Split:
    """K folds (``folds``) or a train/val split (``val_fraction``); ``groups``: lists of file
    names that must land in the same part."""
    if (folds is None) == (val_fraction is None):
        raise ValueError("give exactly one of folds and val_fraction")
    if folds is not None:
        if folds < 2:
            raise DatasetError(f"--folds must be at least 2, got {folds}")
        part_names = [f"fold{k}" for k in range(folds)]
        fractions = np.full(folds, 1.0 / folds)
    else:
        if not 0.0 < val_fraction < 1.0:
            raise DatasetError(f"--val-fraction must be between 0 and 1 (exclusive), got {val_fraction}")
        part_names = ["train", "val"]
        fractions = np.array([1.0 - val_fraction, val_fraction])
    labels = strata_labels(ds, stratify, bands)
    units = _units(ds, groups or [])
    if len(units) < len(part_names):
        raise DatasetError(f"{len(units)} images (or groups of duplicates) cannot fill {len(part_names)} parts")
    rng = np.random.default_rng(seed)
    part_of = np.full(len(ds), -1, dtype=np.int64)
    total = np.zeros(len(part_names))
    n_all = len(ds)
    by_stratum: dict[str, list[list[int]]] = {}
    for u in units:
        by_stratum.setdefault(labels[u[0]], []).append(u)
    for label in sorted(by_stratum):
        group = by_stratum[label]
        group = [group[k] for k in rng.permutation(len(group))]
        group.sort(key=len, reverse=True)  # stable: the shuffle orders units of equal size
        n_stratum = sum(len(u) for u in group)
        here = np.zeros(len(part_names))
        for u in group:
            need = fractions * n_stratum - here
            need_all = fractions * n_all - total
            order = np.lexsort((rng.random(len(part_names)), -need_all, -need))
            p = int(order[0])
            part_of[u] = p
            here[p] += len(u)
            total[p] += len(u)
    empty = [part_names[k] for k in range(len(part_names)) if not np.any(part_of == k)]
    if empty:
        raise DatasetError(f"part {empty[0]} would be empty with {len(ds)} images; use a larger fraction or fewer folds")
    names = [im.file_name for im in ds.images]
    multi = [sorted(names[i] for i in u) for u in units if len(u) > 1]
    return Split(part_names, part_of, labels, sorted(multi))


def _units(ds: AcneDataset, groups: list[list[str]]) -> list[list[int]]:
    """Image indices linked by ``groups`` (overlapping groups merge; others alone), each
    unit sorted, units ordered by their first file name."""
    index = {im.file_name: k for k, im in enumerate(ds.images)}
    links = []
    for g in groups:
        members = [index[n] for n in g if n in index]
        links += [(members[0], m) for m in members[1:]]
    pairs = np.array(links, dtype=np.int64).reshape(-1, 2)
    linked = groups_from_pairs(len(ds), pairs)
    in_group = {k for g in linked for k in g}
    out = linked + [[k] for k in range(len(ds)) if k not in in_group]
    out.sort(key=lambda u: min(ds.images[k].file_name for k in u))
    return out


def split_files(split: Split, ds: AcneDataset, *, manifest: dict) -> dict[str, str]:
    """File name -> text of every output: per part an Acne04-v2 file and a name list (for k
    folds, ``foldK_train`` / ``foldK_val``), and ``split.json`` describing the split."""
    files: dict[str, str] = {}

    def add(stem: str, names: list[str]) -> None:
        files[f"{stem}.json"] = ds.subset(names).to_json()
        files[f"{stem}.txt"] = "".join(n + "\n" for n in names)

    all_names = [im.file_name for im in ds.images]
    if split.part_names == ["train", "val"]:
        for k, part in enumerate(split.part_names):
            add(part, split.names(ds, k))
    else:
        for k, part in enumerate(split.part_names):
            val = set(split.names(ds, k))
            add(f"{part}_train", [n for n in all_names if n not in val])
            add(f"{part}_val", [n for n in all_names if n in val])
    info = {**manifest, "parts": split.table(ds), "kept_together": split.groups,
            "part_of": {n: split.part_names[p] for n, p in zip(all_names, split.part_of.tolist())}}
    files["split.json"] = json.dumps(info, indent=1) + "\n"
    return files


def write_files(out_dir: str | Path, files: dict[str, str], *, overwrite: bool = False,
                inputs: list[str | Path] = ()) -> list[Path]:
    """Write all ``files`` into ``out_dir`` as one step (`acnekit.atomic.write_tree`): every
    file is first written complete, then moved into place; on any failure nothing (no partial
    file) is left and replaced files are put back. Refuses existing outputs unless
    ``overwrite``, and inputs always; other files in ``out_dir`` are never touched, except the
    files an earlier split wrote there and this one does not (with ``overwrite``)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError("--out must be a folder", path=out)
    for t in (out / name for name in files):
        check_output(t, overwrite=overwrite, inputs=inputs)
    write_tree(out, {name: text.encode("utf-8") for name, text in files.items()}, overwrite=overwrite,
               inputs=inputs, kind="split")  # with --force, an earlier split's extra folds go too
    return [out / name for name in files]
