"""The jobs the commands run on an engine (see `acnekit.engines.core` for the protocol).

Jobs are small and picklable: options plus a ``loader`` (a module-level function, or any
picklable callable) that returns the detector. Values are plain data (bytes, dicts, numpy
arrays), so Ray can carry them back to the driver, which alone writes outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


def load_shipped(path: str | None):
    """The detector at ``path`` (default: the shipped model)."""
    from acnekit.detector.infer import Detector

    return Detector.load(path)


def check_model(path: str | None) -> None:
    """A missing ``--model`` named in this process, before any engine (or Ray actor) starts."""
    if path is not None and not Path(path).exists():
        from acnekit.errors import ModelError

        raise ModelError("model weights not found", path=path)


def _load(loader: Callable, model: str | None, tta: str, device: str | None):
    from acnekit.commands._common import apply_tta

    det = loader(model)
    apply_tta(det, tta)
    if device and device != "cpu" and hasattr(det, "net"):
        import torch

        if device == "cuda" and not torch.cuda.is_available():
            device = "cpu"  # a GPU actor on a node without one: run on its CPUs rather than fail
        det.net.to(device)
    return det


@dataclass
class AssessJob:
    """`acnekit.assess.assess_photo` and the three output files of one photo."""

    model: str | None = None
    tta: str = "model"
    options: dict[str, Any] = field(default_factory=dict)  # assess_photo keyword arguments
    loader: Callable = load_shipped
    device: str | None = None
    mask_overlay: bool = False  # dim the photo outside the facial-skin mask in annotated.jpg

    def load(self):
        return _load(self.loader, self.model, self.tta, self.device)

    def prepare(self, path: str) -> str:
        return path  # assess_photo reads the photo itself

    def infer(self, detector, paths: list[str]) -> list[dict]:
        from acnekit.assess import assess_photo, render_outputs

        out = []
        for path in paths:
            a = assess_photo(path, detector, **self.options)
            out.append({"files": render_outputs(a, a.rgb, mask_overlay=self.mask_overlay), "dict": a.to_dict()})
            a.rgb = None
        return out


@dataclass
class DetectJob:
    """Circles with scores for each photo (`Detector.predict_many` on a chunk)."""

    model: str | None = None
    tta: str = "model"
    score_thr: float | None = None
    max_pixels: int | None = None
    loader: Callable = load_shipped
    device: str | None = None

    def load(self):
        return _load(self.loader, self.model, self.tta, self.device)

    def prepare(self, path: str):
        """The photo and its colour note (None for a colour photo); the driver issues the warning."""
        from acnekit.imageio import read_image_info

        return read_image_info(path, max_pixels=self.max_pixels, warn=False)

    def infer(self, detector, items: list) -> list[dict]:
        floor = detector.card["min_score"] if self.score_thr is None else self.score_thr
        model = {"model": detector.name, "working_scale": detector.working_scale, "score_floor": floor,
                 "score_threshold": detector.score_threshold if self.score_thr is None else self.score_thr}
        gthr = getattr(detector, "graded_threshold", None)
        if gthr is not None:
            model["graded_model"] = detector.graded_card.get("name")
            model["graded_threshold"] = gthr
        rgbs = [rgb for rgb, _ in items]
        out = []
        for (rgb, note), c in zip(items, detector.predict_many(rgbs, score_thr=floor)):
            h, w = rgb.shape[:2]
            v = {"width": int(w), "height": int(h), "xy": c.xy, "radius": c.radius, "score": c.score, "info": model,
                 "warnings": [note] if note else []}
            if gthr is not None and c.graded_score is not None:
                # graded lesions are among the counted ones: graded score and score both at their thresholds
                v["graded_score"] = c.graded_score
                v["graded"] = (c.graded_score >= gthr) & (c.score >= model["score_threshold"])
            out.append(v)
        return out
