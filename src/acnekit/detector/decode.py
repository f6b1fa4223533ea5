"""Heads -> circles: 3x3 max-pool peak picking, top-k, offset and radius read at the peak."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from acnekit.circles import Circles


def peaks(heatmap_logits: torch.Tensor, k: int = 500) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(scores, batch_index, ys, xs) of up to k local maxima per image, each (B, k)."""
    heat = torch.sigmoid(heatmap_logits.float())
    hmax = F.max_pool2d(heat, 3, stride=1, padding=1)
    heat = heat * (hmax == heat)
    b, _, h, w = heat.shape
    k = min(k, h * w)
    scores, idx = heat.view(b, -1).topk(k)
    return scores, torch.arange(b)[:, None].expand(b, k), idx // w, idx % w


def decode(heads: dict[str, torch.Tensor], stride: int = 2, k: int = 500, score_thr: float = 0.05) -> list[Circles]:
    """One `Circles` (with scores, input pixels) per image of the batch."""
    scores, bi, ys, xs = peaks(heads["heatmap"], k)
    off = heads["offset"].float()
    logr = heads["log_radius"].float()
    out = []
    for i in range(scores.shape[0]):
        keep = scores[i] >= score_thr
        y, x = ys[i][keep], xs[i][keep]
        cx = (x.float() + off[i, 0, y, x]) * stride
        cy = (y.float() + off[i, 1, y, x]) * stride
        r = torch.exp(logr[i, 0, y, x].clamp(-3.0, 6.0))
        out.append(Circles(
            torch.stack([cx, cy], 1).numpy().astype(np.float64),
            r.numpy().astype(np.float64),
            scores[i][keep].numpy().astype(np.float64),
        ))
    return out
