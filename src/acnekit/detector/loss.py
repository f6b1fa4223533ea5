"""Loss terms for `CircleNet`, returned by name.

- ``heatmap``: penalty-reduced pixel-wise focal loss (CenterNet, Zhou et al. 2019; alpha 2,
  beta 4), normalised by ``max(1, number of centres)``.
- ``radius``: L1 on log radius, weighted by ``reg_weight``, normalised by its sum.
- ``offset``: L1 on the cell-to-centre vector, weighted the same way.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

DEFAULT_WEIGHTS = {"heatmap": 1.0, "radius": 1.0, "offset": 1.0}


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    logits = logits.float()
    pos = target.eq(1).float()
    neg = 1.0 - pos
    log_p = F.logsigmoid(logits)
    log_1mp = F.logsigmoid(-logits)
    p = log_p.exp()
    pos_loss = -(log_1mp.exp() ** alpha) * log_p * pos
    neg_loss = -((1 - target) ** beta) * (p**alpha) * log_1mp * neg
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def losses(heads: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
           weights: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
    """Named loss terms plus their weighted sum under ``"total"``."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    wmap = targets["reg_weight"]
    norm = wmap.sum().clamp(min=1e-6)
    out = {
        "heatmap": focal_loss(heads["heatmap"], targets["heatmap"]),
        "radius": ((heads["log_radius"].float() - targets["log_radius"]).abs() * wmap).sum() / norm,
        "offset": ((heads["offset"].float() - targets["offset"]).abs() * wmap).sum() / norm,
    }
    out["total"] = sum(weights[k] * out[k] for k in ("heatmap", "radius", "offset"))
    return out
