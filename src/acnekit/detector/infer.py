"""`Detector`: a trained `CircleNet` plus its model card; photo in, circles out.

Working scale: a photo of any size is resized, keeping its aspect ratio, so that its area is
``card["working_scale"]["area"]`` pixels (640 x 640 by default: the size of the training
copies, made from 3112x3456 originals), then, like those copies, JPEG-encoded at quality 75
and decoded (``working_jpeg_quality``): the model was trained on JPEG-smoothed copies and
finds spurious lesions in the fine texture of a sharper resize. If the working image is
larger than ``max_side`` it is tiled (`tiling.tiled_predict`). Circles are mapped back to the photo's own pixels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from acnekit.circles import Circles
from acnekit.detector.decode import decode
from acnekit.detector.fuse import fold_batchnorm
from acnekit.detector.graded import circle_scores
from acnekit.detector.network import CircleNet
from acnekit.detector.tiling import tiled_predict
from acnekit.errors import ModelError
from acnekit.imageio import resize_rgb

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_MODEL = WEIGHTS_DIR / "acnekit-circlenet.safetensors"
DEFAULT_CARD: dict[str, Any] = {
    "name": "untrained",
    "arch": {"width": 64, "head_width": 32},
    "working_scale": {"rule": "area", "area": 640 * 640, "max_side": 1024, "tile": 640, "overlap": 96},
    "score_threshold": 0.3,
    "min_score": 0.05,
    "max_detections": 500,
    "tta_flip": False,
    "bf16": False,  # bf16 autocast: faster only on CPUs with native bf16 (avx512_bf16, AMX)
    # a resized photo is JPEG-encoded at this quality (4:2:0) and decoded before detection, so
    # that it looks like the training copies (640x640 JPEG, quality 75); None: not re-encoded
    "working_jpeg_quality": 75,
}


# Face rule (``working_image(rgb, scale)``): the JPEG round trip mimics what a large downscale
# to the training copies did; a photo resized by this factor or more (already near the working
# resolution, e.g. a 640 copy, whose own compression is the training copies') is not re-encoded:
# on 100 val photos a 0.98 resize with the round trip cost 0.033 AP50, and the face rule without
# it scored AP50 0.378 against 0.375 for today's rule. Below it (a half-size copy of a 3112x3456
# photo needs about 0.4) the round trip stays, as in the area rule.
FACE_JPEG_BELOW = 0.9
# A photo that is itself a JPEG of this quality or lower (`acnekit.imageio.jpeg_quality`)
# already carries compression like the training copies' (quality 75; camera originals are
# usually 90 or more, the fullres photos 92): under the face rule it is not re-encoded unless
# shrunk below COMPRESSED_MIN_SCALE, where its own artefacts shrink away. On val the round trip
# of such photos shrunk by 0.6-0.9 cost AP50 (0.362 against 0.416 without it on the 10 photos
# the face rule shrinks below 0.9), while sharp photos shrunk to 0.27-0.5 without it found
# 237-265 lesions against 152-177 with it (177 annotated).
COMPRESSED_SOURCE_Q = 85
COMPRESSED_MIN_SCALE = 0.5


def card_path(weights: Path) -> Path:
    return weights.with_suffix(".json")


def _brief(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def read_weights(weights: str | Path, what: str = "model weights") -> dict[str, torch.Tensor]:
    """A safetensors state dict; a missing or unreadable file is one `ModelError` naming it."""
    from safetensors.torch import load_file

    try:
        return load_file(str(weights))
    except FileNotFoundError:
        raise ModelError(f"{what} not found", path=weights) from None
    except Exception as exc:  # safetensors raises its own error types for a corrupt file
        raise ModelError(f"cannot load {what}: not a readable safetensors file ({_brief(exc)})",
                         path=weights) from None


def load_weights(model: torch.nn.Module, weights: str | Path, what: str = "model weights") -> None:
    """Load a safetensors state dict into ``model`` strictly; a missing or unreadable file, or
    weights of another architecture, is one `ModelError` naming the file."""
    state = read_weights(weights, what)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"cannot load {what}: they do not fit this network (width/head_width?) "
                         f"({_brief(exc)})", path=weights) from None


class Detector:
    stride = CircleNet.stride  # input pixels per output cell

    def __init__(self, model: CircleNet, card: dict[str, Any] | None = None, *, fold_bn: bool = False,
                 graded: torch.nn.Module | None = None, graded_card: dict[str, Any] | None = None):
        """``model`` is used as is (training validates the live model through this class);
        ``fold_bn`` runs a copy with BatchNorm folded into the convolutions instead (the same
        heads to float rounding, about a quarter faster on CPU), for frozen weights.
        ``graded``: a graded head (`acnekit.detector.graded`) on the model's head features,
        with its card (``graded_threshold``); circles then carry ``graded_score``."""
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.net = fold_batchnorm(self.model).to(memory_format=torch.channels_last) if fold_bn else self.model
        self.card = {**DEFAULT_CARD, **(card or {})}
        self.graded = None
        self.graded_card = dict(graded_card or {})
        self.selector = None  # acnekit.detector.graded_select.Selector from the graded card, if any
        if graded is not None:
            graded = graded.eval().to(self.device)
            self.graded = (fold_batchnorm(graded) if fold_bn else graded).to(memory_format=torch.channels_last)
            if self.graded_card.get("selector"):
                from acnekit.detector.graded_select import Selector

                self.selector = Selector.from_card(self.graded_card["selector"])

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path | None = None, *, fold_bn: bool = True,
             graded: str | Path | None = "auto") -> "Detector":
        """Load weights (.safetensors) and the model card beside them (same name, .json).
        ``None`` loads the default model shipped in ``acnekit/weights``. ``graded``:
        ``"auto"`` attaches the shipped graded head when it was trained on this model's
        features (its card's ``base_model`` is this model's name), a path attaches that head
        (an error if it was trained on another model), ``None`` none."""
        weights = Path(path) if path is not None else DEFAULT_MODEL
        if weights.is_dir():
            weights = weights / "best.safetensors"
        if not weights.exists():
            hint = " (the shipped default model is missing: reinstall acnekit)" if path is None else ""
            raise ModelError("model weights not found" + hint, path=weights)
        cpath = card_path(weights)
        try:
            card = json.loads(cpath.read_text()) if cpath.exists() else {}
        except json.JSONDecodeError as exc:
            raise ModelError(f"model card is not valid JSON ({exc.msg})", path=cpath) from None
        arch = {**DEFAULT_CARD["arch"], **card.get("arch", {})}
        model = CircleNet(width=arch["width"], head_width=arch["head_width"])
        load_weights(model, weights)
        head, gcard = _graded_for(card.get("name", "unnamed"), graded)
        return cls(model, card, fold_bn=fold_bn, graded=head, graded_card=gcard)

    @property
    def name(self) -> str:
        return str(self.card.get("name", "unnamed"))

    @property
    def graded_threshold(self) -> float | None:
        """Graded score at which a lesion counts for the reference grade; None without a head."""
        t = self.graded_card.get("graded_threshold") if self.graded is not None else None
        return None if t is None else float(t)

    @property
    def score_threshold(self) -> float:
        return float(self.card["score_threshold"])

    @property
    def working_scale(self) -> dict[str, Any]:
        return dict(self.card["working_scale"])

    @property
    def device(self) -> torch.device:
        """Where the network's input goes (training validates the live model, on CUDA too)."""
        return next(self.net.parameters()).device

    # ------------------------------------------------------------------ inference
    def working_size(self, width: int, height: int, scale: float | None = None) -> tuple[int, int]:
        """The working image size: the photo resized by ``scale`` when given (the face rule,
        `acnekit.face.working`), else to ``card["working_scale"]["area"]`` pixels (area rule)."""
        s = math.sqrt(self.card["working_scale"]["area"] / (width * height)) if scale is None else scale
        return max(1, round(width * s)), max(1, round(height * s))

    @torch.no_grad()
    def heads(self, rgb: np.ndarray) -> dict[str, torch.Tensor]:
        """Raw heads for an (H, W, 3) uint8 working image, or a (B, H, W, 3) batch of
        same-size ones, padded to a multiple of 32."""
        batch = rgb if rgb.ndim == 4 else rgb[None]
        h, w = batch.shape[1:3]
        ph, pw = -h % 32, -w % 32
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2).float()
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        x = x.contiguous(memory_format=torch.channels_last)
        use_bf16 = bool(self.card.get("bf16")) and x.device.type == "cpu"
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            out = self.forward(x)
            if self.card.get("tta_flip"):
                out = merge_flip(out, {k: v.flip(-1) for k, v in self.forward(x.flip(-1)).items()})
        return out

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network on a padded (B, 3, H, W) float batch: raw heads as float32, on the CPU
        (decoding is CPU work)."""
        if self.graded is None:
            return {k: v.float().cpu() for k, v in self.net(x).items()}
        y = self.net.features(x)
        out = self.net.heads(y)
        out["graded"] = self.graded(y)
        return {k: v.float().cpu() for k, v in out.items()}

    def predict_working(self, rgb: np.ndarray) -> Circles:
        """Circles (score >= min_score) in the pixels of a working-scale image or tile."""
        return self.predict_working_batch(rgb[None])[0]

    def predict_working_batch(self, batch: np.ndarray) -> list[Circles]:
        """`predict_working` for a (B, H, W, 3) batch of same-size working images."""
        h, w = batch.shape[1:3]
        heads = self.heads(batch)
        found = decode(heads, self.stride, self.card["max_detections"], self.card["min_score"])
        if "graded" in heads:
            for i, c in enumerate(found):
                c.graded_score = circle_scores(heads["graded"][i], c, self.stride)
        return [c[c.inside(w, h)] for c in found]

    def predict(self, rgb: np.ndarray, score_thr: float | None = None, work_scale: float | None = None,
                source_quality: float | None = None) -> Circles:
        """Circles with scores, in the photo's own pixels; ``score_thr`` defaults to the
        model's operating point (``card["score_threshold"]``); ``work_scale`` (working pixels
        per photo pixel) replaces the area rule when given; ``source_quality``: the photo
        file's JPEG quality (`working_image`)."""
        return self.predict_many([rgb], score_thr, [work_scale], [source_quality])[0]

    def predict_many(self, rgbs: list[np.ndarray], score_thr: float | None = None,
                     work_scales: list[float | None] | None = None,
                     source_qualities: list[float | None] | None = None) -> list[Circles]:
        """`predict` for several photos: those whose working images have the same size and
        need no tiling go through the network as one batch; the result is the same as
        calling `predict` on each."""
        thr = self.score_threshold if score_thr is None else float(score_thr)
        out = []
        for rgb, (work, c) in zip(rgbs, self.candidates_many(rgbs, work_scales, source_qualities=source_qualities)):
            c = c.scaled(rgb.shape[1] / work.shape[1], rgb.shape[0] / work.shape[0])
            out.append(c[c.score >= thr])
        return out

    def candidates_many(self, rgbs: list[np.ndarray], work_scales: list[float | None] | None = None,
                        select: bool = True, source_qualities: list[float | None] | None = None,
                        ) -> list[tuple[np.ndarray, Circles]]:
        """Per photo, (its working image, every circle with score >= ``min_score`` in
        working-image pixels). With a graded head the circles carry ``graded_score``: the
        graded selector's probability (`acnekit.detector.graded_select`) when the head's card
        has one and ``select``, else the head's own score."""
        ws = self.card["working_scale"]
        scales = work_scales if work_scales is not None else [None] * len(rgbs)
        qualities = source_qualities if source_qualities is not None else [None] * len(rgbs)
        works = [self.working_image(rgb, s, q) for rgb, s, q in zip(rgbs, scales, qualities)]
        found: list[Circles | None] = [None] * len(rgbs)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, work in enumerate(works):
            if max(work.shape[:2]) <= ws["max_side"]:
                groups.setdefault(work.shape[:2], []).append(i)
            else:
                found[i] = tiled_predict(work, self.predict_working, ws["tile"], ws["overlap"])
        for idx in groups.values():
            for i, c in zip(idx, self.predict_working_batch(np.stack([works[i] for i in idx]))):
                found[i] = c
        if select and self.selector is not None:
            for work, c in zip(works, found):
                if c.graded_score is not None:
                    c.graded_score = self.selector(work, c, c.graded_score)
        return list(zip(works, found))

    def working_image(self, rgb: np.ndarray, scale: float | None = None,
                      source_quality: float | None = None) -> np.ndarray:
        """The photo at the working scale; when it had to be resized, JPEG round-tripped at
        ``card["working_jpeg_quality"]`` like the training copies, except under the face rule
        (``scale`` given) for a mild resize (>= ``FACE_JPEG_BELOW``) or for a photo that is
        itself a JPEG of quality <= ``COMPRESSED_SOURCE_Q`` (``source_quality``) resized by
        ``COMPRESSED_MIN_SCALE`` or more."""
        h, w = rgb.shape[:2]
        ww, wh = self.working_size(w, h, scale)
        if (ww, wh) == (w, h):
            return rgb
        work = resize_rgb(rgb, ww, wh)
        quality = self.card.get("working_jpeg_quality")
        compressed = source_quality is not None and source_quality <= COMPRESSED_SOURCE_Q
        if scale is not None and (scale >= FACE_JPEG_BELOW or (compressed and scale >= COMPRESSED_MIN_SCALE)):
            quality = None  # face rule: the photo keeps its own texture (see FACE_JPEG_BELOW, COMPRESSED_SOURCE_Q)
        return jpeg_round_trip(work, int(quality)) if quality else work

    def set_tta(self, choice: str) -> None:
        """``"on"`` / ``"off"`` force flip test-time augmentation; ``"model"`` keeps the card's."""
        if choice not in ("model", "on", "off"):
            raise ModelError(f"tta must be model, on or off, got {choice!r}")
        if choice != "model":
            self.card["tta_flip"] = choice == "on"


def jpeg_round_trip(rgb: np.ndarray, quality: int, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Encode as JPEG (4:2:0 chroma subsampling) at ``quality`` and decode again. ``offset``
    (dx, dy) shifts the 8x8 block grid: the image is padded by that many edge pixels on the
    left and top before encoding and cropped back after decoding (same size out)."""
    import io

    from PIL import Image

    dx, dy = offset
    padded = np.pad(rgb, ((dy, 0), (dx, 0), (0, 0)), mode="edge") if dx or dy else rgb
    buf = io.BytesIO()
    Image.fromarray(padded).save(buf, "JPEG", quality=quality, subsampling="4:2:0")
    buf.seek(0)
    return np.ascontiguousarray(np.asarray(Image.open(buf).convert("RGB"))[dy:, dx:])


def merge_flip(out: dict[str, torch.Tensor], flipped: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Average heads of an image and of its mirror image (already flipped back).

    Heatmaps are averaged as probabilities; log radii directly; the x offset of the mirrored
    pass becomes ``1 - offset`` (a point at ``x + o`` cells mirrors to ``W - x - o``)."""
    def mean_prob(key: str) -> torch.Tensor:
        p = (torch.sigmoid(out[key]) + torch.sigmoid(flipped[key])) / 2
        return torch.logit(p.clamp(1e-6, 1 - 1e-6))

    off_f = flipped["offset"].clone()
    off_f[:, 0] = 1 - off_f[:, 0]
    merged = {
        "heatmap": mean_prob("heatmap"),
        "offset": (out["offset"] + off_f) / 2,
        "log_radius": (out["log_radius"] + flipped["log_radius"]) / 2,
    }
    if "graded" in out:
        merged["graded"] = mean_prob("graded")
    return merged


def _graded_for(model_name: str, graded: str | Path | None):
    """(head, card) to attach to a model named ``model_name``; (None, None) for none."""
    from acnekit.detector.graded import DEFAULT_GRADED, load_graded

    if graded is None or (graded == "auto" and not DEFAULT_GRADED.exists()):
        return None, None
    head, gcard = load_graded(None if graded == "auto" else graded)
    if gcard.get("base_model") != model_name:
        if graded == "auto":
            return None, None
        raise ModelError(f"graded head was trained on the features of {gcard.get('base_model')!r}, "
                         f"not of {model_name!r}", path=graded)
    return head, gcard
