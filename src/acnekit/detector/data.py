"""Training data: real ACNE04 photos at 640x640 with Acne04-v2 circles rescaled onto them,
held in memory, and seeded augmentation (lesion-biased crops, scale jitter, flips, colour;
optionally a JPEG re-encoding with its 8x8 block grid at a random offset, and a low-resolution
round trip).

The two optional ones target what `acnekit assess` meets and the training copies do not: a
camera photo is resized to the face working scale and JPEG round-tripped (quality 75) with the
block grid wherever the framing puts it, and a small photo is enlarged. Both are off (p = 0,
no random draws) unless a config sets them, so older configs give the same batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset
from acnekit.detector.infer import jpeg_round_trip
from acnekit.errors import DatasetError
from acnekit.imageio import read_image

log = logging.getLogger("acnekit.train")


@dataclass
class Sample:
    name: str
    image: np.ndarray  # (H, W, 3) uint8
    circles: Circles  # in this image's pixels


def read_name_list(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.exists():
        raise DatasetError("name list not found", path=path)
    names = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if not names:
        raise DatasetError("name list is empty", path=path)
    return names


def load_samples(ds: AcneDataset, image_dir: str | Path, names: list[str]) -> list[Sample]:
    """Photos named in ``names`` with their circles rescaled from the recorded size to the
    photo's size (x by w'/w, y by h'/h, radius by the mean). Circles whose centre falls
    outside the image are dropped with a warning; a listed photo absent from the dataset
    or the folder is an error."""
    image_dir = Path(image_dir)
    by_name = ds.by_name()
    missing = [n for n in names if n not in by_name]
    if missing:
        raise DatasetError(f"{len(missing)} listed photos have no annotations, first {missing[0]!r}", path=ds.path)
    out = []
    for name in names:
        rec = by_name[name]
        rgb = read_image(image_dir / name)
        h, w = rgb.shape[:2]
        c = rec.circles.scaled(w / rec.width, h / rec.height)
        inside = c.inside(w, h)
        if not inside.all():
            log.warning("%s: dropped %d circles outside the image", name, int((~inside).sum()))
        out.append(Sample(name, rgb, Circles(c.xy[inside], c.radius[inside])))
    return out


@dataclass
class AugmentConfig:
    crop: int = 320
    scale_min: float = 0.8
    scale_max: float = 1.25
    lesion_crop_p: float = 0.7
    hflip_p: float = 0.5
    vflip_p: float = 0.5
    transpose_p: float = 0.0  # swap x and y (with the flips: all 8 quarter turns and mirrors); 0 draws nothing
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.2
    jpeg_p: float = 0.0  # re-encode the crop as JPEG (4:2:0) at a random quality and grid offset
    jpeg_quality: tuple[int, int] = (60, 92)  # quality drawn uniformly in [min, max]
    lowres_p: float = 0.0  # shrink the crop by a random factor and enlarge it back (bilinear)
    lowres_scale: tuple[float, float] = (0.45, 0.85)  # shrink factor drawn uniformly in [min, max]

    def __post_init__(self) -> None:
        self.jpeg_quality = (int(self.jpeg_quality[0]), int(self.jpeg_quality[1]))  # a config file gives lists
        self.lowres_scale = (float(self.lowres_scale[0]), float(self.lowres_scale[1]))


def augment(sample: Sample, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[np.ndarray, Circles]:
    """One (crop, crop, 3) uint8 training crop and its circles."""
    img, c = sample.image, sample.circles
    h, w = img.shape[:2]
    s = float(np.exp(rng.uniform(np.log(cfg.scale_min), np.log(cfg.scale_max))))
    region = cfg.crop / s  # side of the source region in source pixels
    if len(c) and rng.random() < cfg.lesion_crop_p:
        k = rng.integers(len(c))
        cx, cy = c.xy[k] + rng.uniform(-region / 2, region / 2, size=2)
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    x0 = float(np.clip(cx - region / 2, 0, max(0.0, w - region)))
    y0 = float(np.clip(cy - region / 2, 0, max(0.0, h - region)))
    box = (x0, y0, x0 + region, y0 + region)
    crop = np.asarray(Image.fromarray(img).resize((cfg.crop, cfg.crop), Image.Resampling.BILINEAR, box=box))
    xy = (c.xy - [x0, y0]) * s
    r = c.radius * s
    if rng.random() < cfg.hflip_p:
        crop = crop[:, ::-1]
        xy = xy * [-1, 1] + [cfg.crop, 0]
    if rng.random() < cfg.vflip_p:
        crop = crop[::-1]
        xy = xy * [1, -1] + [0, cfg.crop]
    if cfg.transpose_p > 0 and rng.random() < cfg.transpose_p:
        crop = crop.transpose(1, 0, 2)
        xy = xy[:, ::-1]
    keep = (xy[:, 0] >= 0) & (xy[:, 0] < cfg.crop) & (xy[:, 1] >= 0) & (xy[:, 1] < cfg.crop)
    return _degrade(_colour(crop, rng, cfg), rng, cfg), Circles(xy[keep], r[keep])


def _degrade(crop: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """The low-resolution round trip and the JPEG re-encoding (in that order when both: a
    small photo is compressed at its own size, then enlarged). Same size out."""
    low = cfg.lowres_p > 0 and rng.random() < cfg.lowres_p
    jpeg = cfg.jpeg_p > 0 and rng.random() < cfg.jpeg_p
    if not (low or jpeg):
        return crop
    h, w = crop.shape[:2]
    img = crop
    if low:
        f = rng.uniform(*cfg.lowres_scale)
        img = np.asarray(Image.fromarray(img).resize((max(8, round(w * f)), max(8, round(h * f))),
                                                     Image.Resampling.BILINEAR))
    if jpeg:
        img = jpeg_round_trip(img, int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)),
                              (int(rng.integers(8)), int(rng.integers(8))))
    if low:
        img = np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))
    return img


def _colour(crop: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    x = crop.astype(np.float32)
    x *= 1 + rng.uniform(-cfg.brightness, cfg.brightness)
    mean = x.mean()
    x = (x - mean) * (1 + rng.uniform(-cfg.contrast, cfg.contrast)) + mean
    gray = x.mean(axis=2, keepdims=True)
    x = (x - gray) * (1 + rng.uniform(-cfg.saturation, cfg.saturation)) + gray
    return np.clip(x, 0, 255).astype(np.uint8)


def make_batch(samples: list[Sample], rng: np.random.Generator, batch: int, cfg: AugmentConfig):
    """(B, crop, crop, 3) uint8 array and a list of B `Circles`."""
    idx = rng.integers(len(samples), size=batch)
    crops, circles = zip(*(augment(samples[i], rng, cfg) for i in idx))
    return np.stack(crops), list(circles)
