"""Exponential moving average of a network's weights (Polyak averaging), the copy that
training validates and saves when ``ema_decay`` > 0.

After each optimiser step every floating-point entry of the state dict (weights and
BatchNorm running statistics) moves towards the live network's value:
``avg = d * avg + (1 - d) * live``; integer entries (BatchNorm's batch counter) are copied.
The decay ramps up as ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early
averages do not cling to the starting weights.
"""

from __future__ import annotations

import copy

import torch


class WeightEMA:
    def __init__(self, model: torch.nn.Module, decay: float, updates: int = 0):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must lie in (0, 1), got {decay}")
        self.decay, self.updates = decay, updates
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, live: torch.nn.Module) -> None:
        d = self.current_decay()
        self.updates += 1
        for avg, new in zip(self.model.state_dict().values(), live.state_dict().values()):
            if avg.is_floating_point():
                avg.lerp_(new.detach().to(avg.dtype), 1.0 - d)
            else:
                avg.copy_(new)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
