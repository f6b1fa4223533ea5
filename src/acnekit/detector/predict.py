"""Run a detector over many photos and collect an Acne04-v2 prediction dataset."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from acnekit.dataset import AcneDataset, ImageRecord
from acnekit.errors import ImageError
from acnekit.imageio import read_image_info


def predict_dataset(detector, photos: Sequence[str | Path], *, score_thr: float | None = None,
                    progress: bool = False, batch: int = 4) -> AcneDataset:
    """Detect on each photo. Keeps circles >= ``score_thr`` (default: the model's floor,
    ``card["min_score"]``) and records the counting threshold in ``info.score_threshold``
    (``score_thr`` when given, else the model's operating point).

    With a graded head, each circle also gets ``graded_score`` and ``graded`` (its graded
    score reaches the head's threshold and its score the counting threshold, so the graded
    lesions are among the counted ones); ``info`` records the head and its threshold.

    Photos go through the network ``batch`` at a time (`Detector.predict_many`); the next
    batch is read and decoded in a background thread while the current one is detected."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    photos = [Path(p) for p in photos]
    seen: dict[str, Path] = {}
    for p in photos:
        if p.name in seen:
            raise ImageError(f"two photos share the file name {p.name!r} ({seen[p.name]} and {p}); "
                             "Acne04-v2 names images by file name", path=p)
        seen[p.name] = p
    floor = detector.card["min_score"] if score_thr is None else score_thr
    counting = detector.score_threshold if score_thr is None else score_thr
    gthr = getattr(detector, "graded_threshold", None)
    chunks = [photos[i : i + batch] for i in range(0, len(photos), batch)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(photos), desc="detect", unit="photo")
    images = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_read_all, chunks[0]) if chunks else None
        for k in range(len(chunks)):
            rgbs, notes = pending.result()
            pending = pool.submit(_read_all, chunks[k + 1]) if k + 1 < len(chunks) else None
            for path, rgb, note, c in zip(chunks[k], rgbs, notes, detector.predict_many(rgbs, score_thr=floor)):
                h, w = rgb.shape[:2]
                names = ["acne"] * len(c)
                ann = None
                if gthr is not None and c.graded_score is not None and len(c):
                    flags = (c.graded_score >= gthr) & (c.score >= counting)
                    ann = [{"graded": bool(f), "graded_score": round(float(g), 4)} for f, g in zip(flags, c.graded_score)]
                extra = {"warnings": [note]} if note else {}  # e.g. a grayscale photo
                images.append(ImageRecord(len(images), path.name, w, h, type(c)(c.xy, c.radius, c.score, names),
                                          ann_extra=ann, extra=extra))
            if bar is not None:
                bar.update(len(rgbs))
    if bar is not None:
        bar.close()
    info = {
        "description": "acnekit predictions",
        "model": detector.name,
        "working_scale": detector.working_scale,
        "score_floor": floor,
        "score_threshold": counting,
    }
    if gthr is not None:
        info["graded_model"] = detector.graded_card.get("name")
        info["graded_threshold"] = gthr
    return AcneDataset(images, info=info)


def _read_all(paths: list[Path]) -> tuple[list, list]:
    """The photos and their colour notes (a warning is issued for each note)."""
    read = [read_image_info(p) for p in paths]
    return [r for r, _ in read], [n for _, n in read]
