"""Synthetic photos for detector tests: red discs of known radius on skin-coloured noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from acnekit.circles import Circles


def disc_photo(h: int, w: int, circles: Circles, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.array([224, 172, 150], np.float32)
    img = base + rng.normal(0, 6, size=(h, w, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    for (x, y), r in zip(circles.xy, circles.radius):
        inside = (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= r**2
        img[inside] = [190, 40, 50]
    return np.clip(img, 0, 255).astype(np.uint8)


def random_circles(h: int, w: int, n: int, seed: int = 0, rmin: float = 3.0, rmax: float = 9.0) -> Circles:
    """n well-separated circles inside an h x w image."""
    rng = np.random.default_rng(seed)
    xy, rr = [], []
    while len(xy) < n:
        r = rng.uniform(rmin, rmax)
        p = rng.uniform([r + 2, r + 2], [w - r - 2, h - r - 2])
        if all(np.hypot(*(p - q)) > r + s + 6 for q, s in zip(xy, rr)):
            xy.append(p)
            rr.append(r)
    return Circles(np.array(xy), np.array(rr))


def write_dataset(root: Path, n_images: int = 6, size: int = 128, seed: int = 0) -> dict[str, Path]:
    """A tiny on-disk training set: images/, annotations.json (recorded at 2x the photo
    size, as the real 640 copies are smaller than their originals), train.txt, val.txt."""
    from acnekit.dataset import AcneDataset, ImageRecord, save_dataset

    (root / "images").mkdir(parents=True)
    recs = []
    for i in range(n_images):
        c = random_circles(size, size, 5, seed=seed + i)
        Image.fromarray(disc_photo(size, size, c, seed + i)).save(root / "images" / f"img{i}.png")
        recs.append(ImageRecord(i, f"img{i}.png", 2 * size, 2 * size, c.scaled(2, 2)))
    save_dataset(AcneDataset(recs, info={"description": "synthetic"}), root / "annotations.json")
    names = [r.file_name for r in recs]
    (root / "train.txt").write_text("\n".join(names[: n_images - 2]) + "\n")
    (root / "val.txt").write_text("\n".join(names[n_images - 2 :]) + "\n")
    return {"annotations": root / "annotations.json", "images": root / "images",
            "train_list": root / "train.txt", "val_list": root / "val.txt"}


FAINT = (212, 158, 142)  # a faint disc: close to the skin colour
CONSPICUOUS = (190, 40, 50)


def two_kind_photo(h: int, w: int, conspicuous: Circles, faint: Circles, seed: int = 0) -> np.ndarray:
    """Skin-coloured noise with conspicuous (dark red) and faint (pale) discs."""
    rng = np.random.default_rng(seed)
    img = np.array([224, 172, 150], np.float32) + rng.normal(0, 4, size=(h, w, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    for circles, colour in ((conspicuous, CONSPICUOUS), (faint, FAINT)):
        for (x, y), r in zip(circles.xy, circles.radius):
            img[(xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= r**2] = colour
    return np.clip(img, 0, 255).astype(np.uint8)


def voc_xml(name: str, w: int, h: int, boxes: Circles) -> str:
    objs = "".join(f"<object><name>x</name><bndbox><xmin>{x - r:.1f}</xmin><ymin>{y - r:.1f}</ymin>"
                   f"<xmax>{x + r:.1f}</xmax><ymax>{y + r:.1f}</ymax></bndbox></object>"
                   for (x, y), r in zip(boxes.xy, boxes.radius))
    return (f"<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height>"
            f"<depth>3</depth></size>{objs}</annotation>")


def write_graded_dataset(root: Path, n_images: int = 8, size: int = 128, seed: int = 0) -> dict:
    """Photos with 3 conspicuous and 3 faint discs; only the conspicuous ones are VOC boxes.
    Returns the folders and lists, and per photo its (conspicuous, faint) circles."""
    (root / "images").mkdir(parents=True)
    (root / "voc").mkdir()
    truth = {}
    for i in range(n_images):
        c = random_circles(size, size, 6, seed=seed + i, rmin=4, rmax=7)
        strong, faint = c[[0, 1, 2]], c[[3, 4, 5]]
        name = f"levle0_{i}.png"
        Image.fromarray(two_kind_photo(size, size, strong, faint, seed + i)).save(root / "images" / name)
        (root / "voc" / f"levle0_{i}.xml").write_text(voc_xml(name, size, size, strong))
        truth[name] = (strong, faint)
    names = sorted(truth)
    (root / "train.txt").write_text("\n".join(names[: n_images - 2]) + "\n")
    (root / "val.txt").write_text("\n".join(names[n_images - 2:]) + "\n")
    return {"images": root / "images", "voc": root / "voc", "train_list": root / "train.txt",
            "val_list": root / "val.txt", "truth": truth}
