"""Training targets for `CircleNet`, built from circles in input pixels.

For an output grid of (H, W) cells at ``stride`` input pixels each:

- ``heatmap`` (1, H, W): per lesion a Gaussian around its centre cell, sigma = max(0.5,
  r / stride / 3) cells, exactly 1 at the centre cell; overlapping lesions take the max.
- ``log_radius`` (1, H, W) and ``offset`` (2, H, W): dense regression targets in a small
  window around each centre (the lesion that dominates the heatmap at that cell wins):
  log of the radius in input pixels, and the vector from the cell to the true centre in cells.
- ``reg_weight`` (1, H, W): where (and how much) the regression targets count: the heatmap
  value inside the window, 0 elsewhere.
"""

from __future__ import annotations

import numpy as np

from acnekit.circles import Circles

REG_WINDOW = 1  # cells on each side of the centre cell that get regression targets


def encode(circles: Circles, out_hw: tuple[int, int], stride: int = 2) -> dict[str, np.ndarray]:
    h, w = out_hw
    heat = np.zeros((h, w), np.float32)
    logr = np.zeros((h, w), np.float32)
    off = np.zeros((2, h, w), np.float32)
    weight = np.zeros((h, w), np.float32)
    if len(circles):
        cx = circles.xy[:, 0] / stride
        cy = circles.xy[:, 1] / stride
        order = np.argsort(-circles.radius)  # small lesions drawn last win ties at shared cells
        for k in order:
            ix, iy = int(np.floor(cx[k])), int(np.floor(cy[k]))
            if not (0 <= ix < w and 0 <= iy < h):
                continue
            sigma = max(0.5, float(circles.radius[k]) / stride / 3.0)
            rad = int(np.ceil(3 * sigma))
            x0, x1 = max(0, ix - rad), min(w, ix + rad + 1)
            y0, y1 = max(0, iy - rad), min(h, iy + rad + 1)
            gx = np.exp(-((np.arange(x0, x1) - ix) ** 2) / (2 * sigma**2))
            gy = np.exp(-((np.arange(y0, y1) - iy) ** 2) / (2 * sigma**2))
            g = (gy[:, None] * gx[None, :]).astype(np.float32)
            patch = heat[y0:y1, x0:x1]
            np.maximum(patch, g, out=patch)
            # regression window: cells where this lesion dominates
            rx0, rx1 = max(0, ix - REG_WINDOW), min(w, ix + REG_WINDOW + 1)
            ry0, ry1 = max(0, iy - REG_WINDOW), min(h, iy + REG_WINDOW + 1)
            gw = g[ry0 - y0 : ry1 - y0, rx0 - x0 : rx1 - x0]
            wins = gw >= weight[ry0:ry1, rx0:rx1]
            yy, xx = np.mgrid[ry0:ry1, rx0:rx1]
            logr[ry0:ry1, rx0:rx1] = np.where(wins, np.log(circles.radius[k]), logr[ry0:ry1, rx0:rx1])
            off[0, ry0:ry1, rx0:rx1] = np.where(wins, cx[k] - xx, off[0, ry0:ry1, rx0:rx1])
            off[1, ry0:ry1, rx0:rx1] = np.where(wins, cy[k] - yy, off[1, ry0:ry1, rx0:rx1])
            weight[ry0:ry1, rx0:rx1] = np.where(wins, gw, weight[ry0:ry1, rx0:rx1])
            heat[iy, ix] = 1.0
    return {
        "heatmap": heat[None],
        "log_radius": logr[None],
        "offset": off,
        "reg_weight": weight[None],
    }


def encode_batch(circles: list[Circles], out_hw: tuple[int, int], stride: int = 2) -> dict[str, np.ndarray]:
    maps = [encode(c, out_hw, stride) for c in circles]
    return {k: np.stack([m[k] for m in maps]) for k in maps[0]}
