"""Match a dataset to the photos in a folder (`--images DIR`) and rescale it to them.

Every image of the dataset must have its file in the folder: a missing or unreadable file
is an `ImageError` that lists how many and the first names (never a silent skip). With
``missing="skip"`` the images without a file are left out *and counted* in the result, so
callers report them.

When a photo's size on disk (upright, EXIF applied) differs from the recorded width and
height, its circles are rescaled: x by sx = w'/w, y by sy = h'/h, radius by (sx + sy) / 2,
and the record gets the disk size. The scale is "uniform" when sx and sy agree within
`UNIFORM_TOL` (relative); otherwise the photo was stretched (e.g. the 640x640 ACNE04 copies).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from acnekit.dataset import AcneDataset
from acnekit.errors import AcneKitError, ImageError
from acnekit.imageio import IMAGE_SUFFIXES, image_size

UNIFORM_TOL = 0.02  # |sx / sy - 1| at most this: the photo was scaled without stretching
MISSING_CHOICES = ("error", "skip")


@dataclass(frozen=True)
class ImageScale:
    """How one photo on disk relates to its recorded size."""

    file_name: str
    width: int  # recorded
    height: int
    disk_width: int
    disk_height: int

    @property
    def sx(self) -> float:
        return self.disk_width / self.width

    @property
    def sy(self) -> float:
        return self.disk_height / self.height

    @property
    def same(self) -> bool:
        return self.disk_width == self.width and self.disk_height == self.height

    @property
    def uniform(self) -> bool:
        return abs(self.sx / self.sy - 1.0) <= UNIFORM_TOL


@dataclass
class OnDisk:
    """A dataset matched to a folder of photos."""

    folder: Path
    dataset: AcneDataset  # rescaled to the photos on disk (only images with a file)
    paths: dict[str, Path]  # file_name -> photo path, for every image in ``dataset``
    scales: list[ImageScale]  # one per image in ``dataset``, same order
    missing: list[str] = field(default_factory=list)  # left out (only with missing="skip")
    unlisted: int = 0  # photos in the folder that the dataset does not name

    @property
    def n_rescaled(self) -> int:
        return sum(not s.same for s in self.scales)

    def scale_groups(self) -> list[tuple[tuple[int, int], tuple[int, int], int, ImageScale]]:
        """(recorded size, disk size, number of images, an example scale), most common first."""
        groups: Counter = Counter()
        example: dict = {}
        for s in self.scales:
            if s.same:
                continue
            key = ((s.width, s.height), (s.disk_width, s.disk_height))
            groups[key] += 1
            example.setdefault(key, s)
        return [(k[0], k[1], n, example[k]) for k, n in groups.most_common()]

    def summary_lines(self, limit: int = 5) -> list[str]:
        """Human-readable report of the match: photos found, missing, and the scales applied."""
        lines = [f"images: {len(self.scales)} photos found in {self.folder}"]
        if self.missing:
            lines.append(f"images: {len(self.missing)} images have no photo in the folder and were left out "
                         f"(first: {', '.join(self.missing[:3])})")
        if self.unlisted:
            lines.append(f"images: {self.unlisted} photos in the folder are not in the dataset (ignored)")
        groups = self.scale_groups()
        if not groups:
            lines.append("images: every photo has its recorded size; no rescaling")
            return lines
        lines.append(f"images: {self.n_rescaled} photos differ from their recorded size; circles rescaled "
                     "(x by sx, y by sy, radius by their mean):")
        for rec, disk, n, s in groups[:limit]:
            kind = "uniform" if s.uniform else f"not uniform, aspect changed by {s.sx / s.sy:.3f}"
            lines.append(f"  {n} x {rec[0]}x{rec[1]} -> {disk[0]}x{disk[1]}: sx={s.sx:.4f} sy={s.sy:.4f} ({kind})")
        if len(groups) > limit:
            rest = sum(n for _, _, n, _ in groups[limit:])
            lines.append(f"  ... and {rest} photos in {len(groups) - limit} other size pairs")
        return lines

    def to_dict(self) -> dict:
        return {
            "folder": str(self.folder),
            "found": len(self.scales),
            "missing": len(self.missing),
            "missing_names": self.missing,
            "unlisted": self.unlisted,
            "rescaled": self.n_rescaled,
            "scales": [
                {"from": list(rec), "to": list(disk), "images": n, "sx": s.sx, "sy": s.sy, "uniform": s.uniform}
                for rec, disk, n, s in self.scale_groups()
            ],
        }


def _first(names: list[str], k: int = 5) -> str:
    more = f", ... ({len(names) - k} more)" if len(names) > k else ""
    return ", ".join(names[:k]) + more


def match_images(ds: AcneDataset, folder: str | Path, *, missing: str = "error") -> OnDisk:
    """Find each image of ``ds`` in ``folder``, read its size and rescale its circles.

    Raises `ImageError` when the folder is absent, when files are missing (unless
    ``missing="skip"``) or when any file cannot be read (always: a corrupt photo is never
    skipped). The error lists how many and the first names.
    """
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing must be one of {MISSING_CHOICES}, got {missing!r}")
    folder = Path(folder)
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "folder not found"
        raise ImageError(f"{what}; --images expects a folder of photos", path=folder)
    present = {p.name for p in folder.iterdir()}
    absent = [im.file_name for im in ds.images if im.file_name not in present]
    if absent and missing == "error":
        raise ImageError(
            f"{len(absent)} of the {len(ds)} images have no file in this folder (first: {_first(absent)}); "
            "pass --missing skip to work on the photos present",
            path=folder,
        )
    if len(absent) == len(ds):
        raise ImageError(f"none of the {len(ds)} images has a file in this folder (first: {_first(absent)})",
                         path=folder)
    absent_set = set(absent)
    records, paths, scales, unreadable = [], {}, [], []
    for im in ds.images:
        if im.file_name in absent_set:
            continue
        path = folder / im.file_name
        try:
            w, h = image_size(path)
        except AcneKitError as exc:
            unreadable.append(f"{im.file_name} ({exc.detail})")
            continue
        s = ImageScale(im.file_name, im.width, im.height, w, h)
        scales.append(s)
        paths[im.file_name] = path
        records.append(im if s.same else replace(im, circles=im.circles.scaled(s.sx, s.sy), width=w, height=h))
    if unreadable:
        raise ImageError(f"{len(unreadable)} photos cannot be read: {_first(unreadable, 3)}", path=folder)
    names = {im.file_name for im in ds.images}
    unlisted = sum(1 for n in present if n not in names and Path(n).suffix.lower() in IMAGE_SUFFIXES)
    return OnDisk(folder, replace(ds, images=records), paths, scales, absent, unlisted)
