"""Model-agnostic tiling and circle non-maximum suppression by centre distance."""

from __future__ import annotations

from typing import Callable

import numpy as np

from acnekit.circles import Circles


def tile_origins(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``size`` with at least ``overlap``."""
    if size <= tile:
        return [0]
    step = tile - overlap
    n = int(np.ceil((size - tile) / step)) + 1
    return [int(round(i * (size - tile) / (n - 1))) for i in range(n)]


def tiled_predict(image: np.ndarray, predict_fn: Callable[[np.ndarray], Circles], tile: int = 640,
                  overlap: int = 96) -> Circles:
    """Run ``predict_fn`` on overlapping tiles of ``image`` (H, W, C), shift each tile's
    circles back to image pixels, keep from each tile only the circles whose centre lies in
    the part of the tile nearest to it (its core), then merge duplicates with `circle_nms`."""
    h, w = image.shape[:2]
    ys, xs = tile_origins(h, tile, overlap), tile_origins(w, tile, overlap)
    parts = []
    for y0 in ys:
        for x0 in xs:
            c = predict_fn(image[y0 : y0 + tile, x0 : x0 + tile])
            if len(c) == 0:
                continue
            c = Circles(c.xy + [x0, y0], c.radius, c.score, c.class_name, c.graded_score)
            lo_x = x0 + (overlap / 2 if x0 > 0 else 0)
            hi_x = x0 + tile - (overlap / 2 if x0 + tile < w else 0)
            lo_y = y0 + (overlap / 2 if y0 > 0 else 0)
            hi_y = y0 + tile - (overlap / 2 if y0 + tile < h else 0)
            x, y = c.xy[:, 0], c.xy[:, 1]
            parts.append(c[(x >= lo_x - 1) & (x <= hi_x + 1) & (y >= lo_y - 1) & (y <= hi_y + 1)])
    merged = Circles.concat(parts) if parts else Circles.empty(with_score=True)
    return circle_nms(merged)


def circle_nms(c: Circles, factor: float = 0.5) -> Circles:
    """Greedy NMS: by descending score, drop a circle whose centre lies within
    ``factor * max(r_i, r_j)`` of a kept one. Needs scores."""
    if len(c) < 2:
        return c
    order = np.argsort(-c.score, kind="stable")
    xy, r = c.xy[order], c.radius[order]
    keep = np.ones(len(order), bool)
    # grid hashing keeps this near-linear: only neighbours within the largest radius are compared
    cell = max(float(r.max()), 1.0)
    keys = np.floor(xy / cell).astype(np.int64)
    buckets: dict[tuple[int, int], list[int]] = {}
    for i in range(len(order)):
        kx, ky = int(keys[i, 0]), int(keys[i, 1])
        suppressed = False
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in buckets.get((kx + dx, ky + dy), ()):
                    if np.hypot(*(xy[i] - xy[j])) <= factor * max(r[i], r[j]):
                        suppressed = True
                        break
                if suppressed:
                    break
            if suppressed:
                break
        if suppressed:
            keep[i] = False
        else:
            buckets.setdefault((kx, ky), []).append(i)
    return c[np.sort(order[keep])]
