"""Training batches by step number, made in the training process or in worker processes.

The batch of step ``t`` on rank ``k`` is drawn from ``numpy.random.default_rng([seed, k, t])``
alone, so it is the same whether it is made in-process or by any of N workers, and a resumed
run sees the batches an uninterrupted one would. With ``workers > 0`` a torch `DataLoader`
runs N processes; worker ``w`` makes the steps ``start + w, start + w + N, ...`` and the
loader hands them back in step order while the network trains on the previous ones (on a
GPU, augmentation on the CPU would otherwise leave it waiting).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from acnekit.detector.data import AugmentConfig, Sample, make_batch
from acnekit.detector.targets import encode_batch

Batch = tuple[np.ndarray, dict[str, np.ndarray]]  # (B, crop, crop, 3) uint8 crops, target maps


def step_batch(samples: list[Sample], cfg: AugmentConfig, batch: int, seed: int, rank: int, step: int,
               stride: int) -> Batch:
    """Crops and encoded targets of one training step."""
    crops, circles = make_batch(samples, np.random.default_rng([seed, rank, step]), batch, cfg)
    side = cfg.crop // stride
    return crops, encode_batch(circles, (side, side), stride)


class StepBatches(torch.utils.data.IterableDataset):
    """The batches of steps ``start .. stop - 1``, split round-robin over loader workers."""

    def __init__(self, samples: list[Sample], cfg: AugmentConfig, batch: int, seed: int, rank: int,
                 start: int, stop: int, stride: int):
        super().__init__()
        self.samples, self.cfg, self.batch = samples, cfg, batch
        self.seed, self.rank, self.start, self.stop, self.stride = seed, rank, start, stop, stride

    def __iter__(self) -> Iterator[Batch]:
        info = torch.utils.data.get_worker_info()
        first, every = (info.id, info.num_workers) if info is not None else (0, 1)
        for step in range(self.start + first, self.stop, every):
            yield step_batch(self.samples, self.cfg, self.batch, self.seed, self.rank, step, self.stride)


def step_batches(samples: list[Sample], cfg: AugmentConfig, batch: int, seed: int, rank: int, start: int,
                 stop: int, stride: int, workers: int = 0) -> Iterator[Batch]:
    """Batches of steps ``start .. stop - 1`` in order; ``workers`` > 0 makes them ahead of
    time in that many processes."""
    data = StepBatches(samples, cfg, batch, seed, rank, start, stop, stride)
    if workers <= 0:
        return iter(data)
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=workers, prefetch_factor=2,
                                         persistent_workers=False)
    return (_to_numpy(b) for b in loader)


def _to_numpy(b) -> Batch:
    """The loader turns numpy arrays into tensors on the way back; undo it (no copy)."""
    crops, maps = b
    as_np = (lambda v: v.numpy() if isinstance(v, torch.Tensor) else v)
    return as_np(crops), {k: as_np(v) for k, v in maps.items()}
