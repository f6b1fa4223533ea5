"""Circles as COCO `segm` inputs, to cross-check acnekit's circle AP against COCO tools
(pycocotools, faster-coco-eval), which only know polygons and masks."""

from __future__ import annotations

from typing import Any

import numpy as np

from acnekit.dataset import AcneDataset

SIDES = 64


def circle_polygon(x: float, y: float, r: float, sides: int = SIDES) -> list[float]:
    """A regular ``sides``-gon with the disc's area, as COCO's flat [x0, y0, x1, y1, ...]."""
    rv = r * np.sqrt(2 * np.pi / (sides * np.sin(2 * np.pi / sides)))
    t = np.arange(sides) * 2 * np.pi / sides
    return np.column_stack([x + rv * np.cos(t), y + rv * np.sin(t)]).ravel().tolist()


def coco_segm_inputs(gt: AcneDataset, pred: AcneDataset, mask_mod: Any) -> tuple[dict, list[dict]]:
    """(COCO ground-truth dict with polygon segmentations, detection list with RLE masks).

    ``mask_mod`` is the COCO tool's mask module (e.g. ``pycocotools.mask``): its ``loadRes``
    takes result masks only as RLE, so predicted polygons are rasterised as COCO does for GT.
    """
    images = [{"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height} for im in gt]
    anns, dets = [], []
    for im in gt:
        for (x, y), r in zip(im.circles.xy, im.circles.radius):
            anns.append({"id": len(anns) + 1, "image_id": im.id, "category_id": 1, "iscrowd": 0,
                         "segmentation": [circle_polygon(x, y, r)], "area": float(np.pi * r * r),
                         "bbox": [x - r, y - r, 2 * r, 2 * r]})
    for im in pred:
        c = im.circles
        for (x, y), r, s in zip(c.xy, c.radius, c.score):
            rle = mask_mod.merge(mask_mod.frPyObjects([circle_polygon(x, y, r)], im.height, im.width))
            dets.append({"image_id": im.id, "category_id": 1, "segmentation": rle, "score": float(s)})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "acne"}]}, dets
