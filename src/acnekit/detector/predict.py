"""Run a detector over many photos and collect an Acne04-v2 prediction dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import ImageError
from acnekit.imageio import read_image


def predict_dataset(detector, photos: Sequence[str | Path], *, score_thr: float | None = None,
                    progress: bool = False) -> AcneDataset:
    """Detect on each photo. Keeps circles >= ``score_thr`` (default: the model's floor,
    ``card["min_score"]``) and records the counting threshold in ``info.score_threshold``
    (``score_thr`` when given, else the model's operating point)."""
    seen: dict[str, Path] = {}
    for p in map(Path, photos):
        if p.name in seen:
            raise ImageError(f"two photos share the file name {p.name!r} ({seen[p.name]} and {p}); "
                             "Acne04-v2 names images by file name", path=p)
        seen[p.name] = p
    floor = detector.card["min_score"] if score_thr is None else score_thr
    images = []
    it = list(photos)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="detect", unit="photo")
    for i, path in enumerate(it):
        rgb = read_image(path)
        c = detector.predict(rgb, score_thr=floor)
        names = ["acne"] * len(c)
        h, w = rgb.shape[:2]
        images.append(ImageRecord(i, Path(path).name, w, h, type(c)(c.xy, c.radius, c.score, names)))
    info = {
        "description": "acnekit predictions",
        "model": detector.name,
        "working_scale": detector.working_scale,
        "score_floor": floor,
        "score_threshold": detector.score_threshold if score_thr is None else score_thr,
    }
    return AcneDataset(images, info=info)
