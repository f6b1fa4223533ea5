"""Options and loading shared by the dataset subcommands (validate, stats, audit, split)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from acnekit.dataset import AcneDataset
from acnekit.ondisk import MISSING_CHOICES, OnDisk, match_images
from acnekit.validate import Issue, parse_dataset, read_json


def add_images_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--images", metavar="DIR",
                   help=f"folder of the photos: check each exists and is readable, read its size, {what}")
    p.add_argument("--missing", choices=MISSING_CHOICES, default="error",
                   help="with --images: an image without a photo is an error (default) or is left out and "
                        "counted (skip)")


@dataclass
class Loaded:
    dataset: AcneDataset  # repaired; rescaled to the photos when --images was given
    issues: list[Issue]  # repairs the lenient loader made
    n_images: int  # image records in the file
    n_annotations: int  # annotation records in the file
    disk: OnDisk | None = None
    n_lesions_before_disk: int = 0  # valid circles before leaving out images without a photo
    recorded: AcneDataset | None = None  # repaired, in recorded coordinates, all images


def load_lenient(path: str, images: str | None = None, missing: str = "error") -> Loaded:
    """Load with repairs (so a file with a few bad circles can still be described) and keep
    the file's own totals, so reports can say how many records were invalid."""
    obj = read_json(path)
    ds, issues = parse_dataset(obj, path=path, fix=True)
    loaded = Loaded(ds, issues, len(obj["images"]), len(obj["annotations"]), None, ds.n_lesions, ds)
    if images:
        loaded.disk = match_images(ds, images, missing=missing)
        loaded.dataset = loaded.disk.dataset
    return loaded
