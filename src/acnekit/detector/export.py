"""ONNX export of `CircleNet` and a `Detector` that runs the exported graph with onnxruntime.

The graph takes float RGB 0..255 ``(1, 3, H, W)`` (H, W multiples of 32, any size) and returns
the three raw heads; decoding, tiling and rescaling stay in Python (shared with torch
inference), so both paths give the same circles.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np
import torch

from acnekit.atomic import atomic_write_bytes
from acnekit.detector.infer import Detector, merge_flip
from acnekit.errors import ModelError

HEADS = ("heatmap", "offset", "log_radius")


class _Heads(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        out = self.model(x)
        return tuple(out[k] for k in HEADS)


def export_onnx(detector: Detector, path: str | Path, *, size: int = 640, overwrite: bool = False) -> Path:
    """Write the network as ONNX (opset 17, dynamic height and width), atomically."""
    # export a copy: the exporter's tracing run may update BatchNorm statistics in place
    model = copy.deepcopy(detector.model).float().eval().to(memory_format=torch.contiguous_format)
    x = torch.rand(1, 3, size, size) * 255
    buf = io.BytesIO()
    torch.onnx.export(
        _Heads(model), (x,), buf, input_names=["image"], output_names=list(HEADS), opset_version=17,
        dynamic_axes={"image": {2: "height", 3: "width"}, **{k: {2: "h2", 3: "w2"} for k in HEADS}},
        dynamo=False,
    )
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


class OnnxDetector(Detector):
    """Same pre- and post-processing as `Detector`; the network runs in onnxruntime (fp32)."""

    def __init__(self, onnx_path: str | Path, card: dict):
        try:
            import onnxruntime as ort
        except ModuleNotFoundError:
            raise ModelError("onnxruntime is not installed (pip install acnekit[onnx])") from None
        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.card = {**card, "bf16": False}

    @torch.no_grad()
    def heads(self, rgb: np.ndarray) -> dict[str, torch.Tensor]:
        """Raw heads for one (H, W, 3) working image or a (B, H, W, 3) batch (run one image
        at a time), with flip test-time augmentation when the card asks for it."""
        batch = rgb if rgb.ndim == 4 else rgb[None]
        h, w = batch.shape[1:3]
        ph, pw = -h % 32, -w % 32
        parts = []
        for im in batch:
            x = np.ascontiguousarray(im).transpose(2, 0, 1)[None].astype(np.float32)
            if ph or pw:
                x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")
            out = self._run(x)
            if self.card.get("tta_flip"):
                out = merge_flip(out, {k: v.flip(-1) for k, v in self._run(np.ascontiguousarray(x[..., ::-1])).items()})
            parts.append(out)
        return {k: torch.cat([p[k] for p in parts]) for k in HEADS}

    def _run(self, x: np.ndarray) -> dict[str, torch.Tensor]:
        outs = self.session.run(list(HEADS), {"image": x})
        return {k: torch.from_numpy(v) for k, v in zip(HEADS, outs)}
