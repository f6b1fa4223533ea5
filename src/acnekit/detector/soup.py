"""Weight averaging of trained CircleNets from one training lineage ("model soup", as in
stochastic weight averaging, Izmailov et al. 2018), and BatchNorm statistics recomputed for
the averaged weights.

Averaging only makes sense for networks fine-tuned from a common starting point: they lie
in one basin of the loss, and the average sits nearer its centre than any of them.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from acnekit.errors import ModelError


def average_state_dicts(states: list[dict[str, torch.Tensor]], names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Uniform mean of floating-point entries; integer entries (BatchNorm's batch counter)
    are taken from the first. All state dicts must have the same keys and shapes."""
    if not states:
        raise ModelError("nothing to average: no weights given")
    names = names or [f"weights #{i + 1}" for i in range(len(states))]
    first = states[0]
    for name, s in zip(names[1:], states[1:]):
        if s.keys() != first.keys():
            odd = sorted(set(s) ^ set(first))[:3]
            raise ModelError(f"cannot average: other parameter names than {names[0]} ({odd})", path=name)
        for k, v in s.items():
            if v.shape != first[k].shape:
                raise ModelError(f"cannot average: {k} has shape {tuple(v.shape)}, {names[0]} has "
                                 f"{tuple(first[k].shape)}", path=name)
    out = {}
    for k, v in first.items():
        out[k] = (sum(s[k].double() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v.clone()
    return out


@torch.no_grad()
def recompute_batchnorm(model: torch.nn.Module, images: Iterable[np.ndarray], batch: int = 8) -> int:
    """Replace every BatchNorm's running mean and variance by their plain average over
    forward passes on ``images`` ((H, W, 3) uint8, all the same size). Returns the number
    of images seen. The model is left in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = {m: m.momentum for m in bns}
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all batches
    model.train()
    seen, chunk = 0, []
    try:
        for rgb in images:
            chunk.append(rgb)
            if len(chunk) == batch:
                seen += _forward(model, chunk)
                chunk = []
        if chunk:
            seen += _forward(model, chunk)
    finally:
        for m in bns:
            m.momentum = saved[m]
        model.eval()
    if seen == 0:
        raise ModelError("no images to recompute BatchNorm statistics on")
    return seen


def _forward(model: torch.nn.Module, chunk: list[np.ndarray]) -> int:
    device = next(model.parameters()).device
    x = torch.from_numpy(np.stack(chunk)).to(device).permute(0, 3, 1, 2).float()
    model(x.contiguous(memory_format=torch.channels_last))
    return len(chunk)

