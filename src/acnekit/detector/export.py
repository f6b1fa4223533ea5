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
from acnekit.detector.infer import Detector
from acnekit.errors import ModelError

HEADS = ("heatmap", "offset", "log_radius")


class _Heads(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        out = self.model(x)
        return tuple(out[k] for k in HEADS)


def onnx_bytes(detector: Detector, *, size: int = 640) -> bytes:
    """The network as an ONNX model (opset 17, dynamic height and width)."""
    # export a copy: the exporter's tracing run may update BatchNorm statistics in place
    model = copy.deepcopy(detector.model).float().eval().to(memory_format=torch.contiguous_format)
    x = torch.rand(1, 3, size, size) * 255
    buf = io.BytesIO()
    torch.onnx.export(
        _Heads(model), (x,), buf, input_names=["image"], output_names=list(HEADS), opset_version=17,
        dynamic_axes={"image": {2: "height", 3: "width"}, **{k: {2: "h2", 3: "w2"} for k in HEADS}},
        dynamo=False,
    )
    return buf.getvalue()


def export_onnx(detector: Detector, path: str | Path, *, size: int = 640, overwrite: bool = False) -> Path:
    """Write the network as ONNX (opset 17, dynamic height and width), atomically."""
    return atomic_write_bytes(path, onnx_bytes(detector, size=size), overwrite=overwrite)


class OnnxDetector(Detector):
    """Same pre- and post-processing (padding, flip TTA, decoding) as `Detector`; only
    `forward`, the network itself, runs in onnxruntime (fp32)."""

    def __init__(self, onnx_path: str | Path, card: dict):
        try:
            import onnxruntime as ort
        except ModuleNotFoundError:
            raise ModelError("onnxruntime is not installed (pip install acnekit[onnx])") from None
        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.card = {**card, "bf16": False}
        # the exported graph has no graded head (nor its selector): `Detector` reads these
        self.graded, self.graded_card, self.selector = None, {}, None

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The exported graph on each image of the padded batch (its batch axis is fixed at 1)."""
        runs = [self.session.run(list(HEADS), {"image": im[None].contiguous().numpy()}) for im in x]
        return {k: torch.from_numpy(np.concatenate([r[i] for r in runs])) for i, k in enumerate(HEADS)}
