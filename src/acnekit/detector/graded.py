"""The graded head: which detected lesions the reference grade counts.

ACNE04's dermatologists marked only the conspicuous lesions that their Hayashi grade counts
(about 8 boxes per photo, against 27 Acne04-v2 circles). `GradedHead` is a small heatmap head
on `CircleNet`'s stride-2 head features (`CircleNet.features`, kept frozen, so the circle
detections do not change) trained on those boxes' centres with the same focal loss and
Gaussian targets as the circle heatmap (`targets.encode`, `loss.focal_loss`).

Per detected circle, the head's score is the graded heatmap's maximum (as a probability) in
the square of cells around the circle's centre that the circle covers (at least 3 x 3 cells,
at most ``MAX_CELLS`` on each side). When the head's card carries a graded selector
(`acnekit.detector.graded_select`), a lesion's ``graded_score`` is the selector's probability,
which stacks that score with the lesion's colour, size and the photo's context; otherwise it
is the head's score. A lesion is graded when ``graded_score`` reaches the card's
``graded_threshold`` (selected on val).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from acnekit.circles import Circles
from acnekit.detector.network import SepConv
from acnekit.errors import ModelError

MAX_CELLS = 6  # widest window half-size read for a circle, in stride-2 cells
DEFAULT_GRADED = Path(__file__).resolve().parents[1] / "weights" / "acnekit-graded.safetensors"


class GradedHead(nn.Module):
    """``SepConv`` blocks + 1x1 conv: (B, cin, h, w) head features -> (B, 1, h, w) logits."""

    def __init__(self, cin: int = 32, width: int = 32, depth: int = 2, prior: float = 0.01):
        super().__init__()
        blocks: list[nn.Module] = []
        for i in range(depth):
            blocks.append(SepConv(cin if i == 0 else width, width))
        self.body = nn.Sequential(*blocks)
        self.out = nn.Conv2d(width, 1, 1)
        nn.init.constant_(self.out.bias, float(np.log(prior / (1 - prior))))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(y))


def circle_scores(graded_logits: torch.Tensor, circles: Circles, stride: int = 2) -> np.ndarray:
    """(n,) graded scores of ``circles`` (input pixels of one image) from its (1, h, w) or
    (1, 1, h, w) graded logits: the probability's maximum over the circle's square window."""
    if len(circles) == 0:
        return np.zeros(0)
    prob = torch.sigmoid(graded_logits.float().reshape(*graded_logits.shape[-2:])).numpy()
    h, w = prob.shape
    half = np.clip(np.round(circles.radius / stride), 1, MAX_CELLS).astype(int)
    ix = np.clip(np.floor(circles.xy[:, 0] / stride).astype(int), 0, w - 1)
    iy = np.clip(np.floor(circles.xy[:, 1] / stride).astype(int), 0, h - 1)
    out = np.zeros(len(circles))
    for k, (x, y, r) in enumerate(zip(ix, iy, half)):  # a window per circle: cheaper than pooling the whole map
        out[k] = prob[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].max()
    return out


def boxes_to_targets(circles: Circles, out_hw: tuple[int, int], stride: int = 2) -> np.ndarray:
    """(1, h, w) Gaussian-peak heatmap target of the reference lesions (box centres, radius
    the mean half-side), as for the circle heatmap."""
    from acnekit.detector.targets import encode

    return encode(circles, out_hw, stride)["heatmap"]


def load_graded(weights: str | Path | None = None) -> tuple[GradedHead, dict[str, Any]]:
    """The graded head and its card (same name, .json); ``None``: the shipped one."""
    from acnekit.detector.infer import card_path, load_weights

    weights = Path(weights) if weights is not None else DEFAULT_GRADED
    cpath = card_path(weights)
    if not weights.exists():
        raise ModelError("graded head weights not found", path=weights)
    try:
        card = json.loads(cpath.read_text()) if cpath.exists() else {}
    except json.JSONDecodeError as exc:
        raise ModelError(f"graded head card is not valid JSON ({exc.msg})", path=cpath) from None
    arch = {"cin": 32, "width": 32, "depth": 2, **card.get("arch", {})}
    head = GradedHead(cin=arch["cin"], width=arch["width"], depth=arch["depth"])
    load_weights(head, weights, what="graded head weights")
    return head.eval(), card
