"""Overlays: lesion circles (or boxes) on photos, a second set to compare, a 1 mm scale bar,
contact sheets. Pure numpy + Pillow; every function returns a new RGB array.

Drawn like the dataset's own script: one circle outline per lesion, line width
``1 + max(h, w) // 1000`` pixels. Annotations are in the recorded image size; `overlay`
rescales them to the photo it draws on (x by w'/w, y by h'/h, radius by the mean), so the
640x640 copies of ACNE04 get the full-resolution circles in the right places.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from acnekit.circles import Circles
from acnekit.dataset import ImageRecord
from acnekit.formats._util import BOX_KEY, is_num

PRIMARY = (0, 255, 0)  # first set: green stands out on skin
SECONDARY = (255, 0, 255)  # --compare set: magenta
GRADED = (0, 200, 255)  # lesions the reference grade counts: cyan, drawn thicker
BAR = (0, 0, 0)  # scale bar, on a white panel
PANEL = (255, 255, 255)

Color = tuple[int, int, int]


def line_width(height: int, width: int) -> int:
    """The dataset script's outline width: ``1 + max(h, w) // 1000``."""
    return 1 + max(int(height), int(width)) // 1000


def text_size(height: int, width: int) -> int:
    """Font size for labels on an image of this size."""
    return max(11, max(int(height), int(width)) // 60)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: fixed small bitmap font
        return ImageFont.load_default()


def _canvas(rgb: np.ndarray) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 array, got {arr.shape} {arr.dtype}")
    img = Image.fromarray(arr.copy())
    return img, ImageDraw.Draw(img)


def _label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, color: Color, size: int) -> None:
    draw.text(xy, text, fill=color, font=_font(size), stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0))


def draw_circles(rgb: np.ndarray, circles: Circles, color: Color = PRIMARY, width: int | None = None,
                 scores: bool = False) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with one circle outline per lesion (``width`` default: the
    dataset rule); ``scores`` writes each circle's score beside it."""
    img, draw = _canvas(rgb)
    h, w = img.height, img.width
    lw = line_width(h, w) if width is None else int(width)
    for x, y, r in circles.xyr:
        draw.ellipse([x - r, y - r, x + r, y + r], outline=color, width=lw)
    if scores and circles.score is not None:
        size = text_size(h, w)
        for (x, y, r), s in zip(circles.xyr, circles.score):
            _label(draw, (x + r * 0.72 + lw, y - r * 0.72 - size), f"{s:.2f}", color, size)
    return np.asarray(img)


def draw_boxes(rgb: np.ndarray, boxes: np.ndarray, color: Color = SECONDARY, width: int | None = None,
               scores: np.ndarray | None = None) -> np.ndarray:
    """``rgb`` with rectangle outlines for (n, 4) ``[x1, y1, x2, y2]`` boxes."""
    img, draw = _canvas(rgb)
    lw = line_width(img.height, img.width) if width is None else int(width)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        draw.rectangle([x1, y1, x2, y2], outline=color, width=lw)
    if scores is not None:
        size = text_size(img.height, img.width)
        for (x1, y1, x2, _), s in zip(np.asarray(boxes).reshape(-1, 4), scores):
            _label(draw, (x2 + lw, y1 - size), f"{s:.2f}", color, size)
    return np.asarray(img)


def scale_bar_geometry(height: int, width: int, px_per_mm: float) -> tuple[int, int, int, int]:
    """(x0, y0, length, thickness) of the bar `draw_scale_bar` draws: ``length`` =
    round(px_per_mm) pixels, bottom-left corner."""
    if not (math.isfinite(px_per_mm) and px_per_mm > 0):
        raise ValueError(f"px_per_mm must be a positive number, got {px_per_mm!r}")
    length = max(1, int(round(px_per_mm)))
    thick = max(2, 2 * line_width(height, width))
    margin = max(4, text_size(height, width) // 2)
    if length + 4 * margin > width:
        raise ValueError(f"a 1 mm bar of {length} px does not fit in an image {width} px wide")
    return 2 * margin, height - 2 * margin - thick, length, thick


def draw_scale_bar(rgb: np.ndarray, px_per_mm: float) -> np.ndarray:
    """``rgb`` with a labelled 1 mm scale bar (black, ``round(px_per_mm)`` pixels long, on a
    white panel) in the bottom-left corner."""
    img, draw = _canvas(rgb)
    x0, y0, length, thick = scale_bar_geometry(img.height, img.width, px_per_mm)
    size = text_size(img.height, img.width)
    font = _font(size)
    label = "1 mm"
    tb = draw.textbbox((0, 0), label, font=font)
    tw, th = tb[2] - tb[0], tb[3] - tb[1]
    pad = max(3, size // 3)
    top = y0 - pad - th - tb[1] - pad
    draw.rectangle([x0 - pad, top - pad, x0 + max(length, tw) + pad - 1, y0 + thick + pad - 1], fill=PANEL)
    draw.text((x0, top), label, fill=BAR, font=font)
    draw.rectangle([x0, y0, x0 + length - 1, y0 + thick - 1], fill=BAR)
    return np.asarray(img)


def draw_legend(rgb: np.ndarray, entries: list[tuple[str, Color, str]]) -> np.ndarray:
    """A legend panel in the top-left corner: one row per ``(text, color, shape)`` with
    ``shape`` ``"circle"`` or ``"box"``."""
    img, draw = _canvas(rgb)
    size = text_size(img.height, img.width)
    font = _font(size)
    lw = line_width(img.height, img.width)
    pad = max(3, size // 3)
    rows = [(t, c, s, draw.textbbox((0, 0), t, font=font)) for t, c, s in entries]
    width = max(b[2] for *_, b in rows) + size + 3 * pad
    height = len(rows) * (size + pad) + pad
    draw.rectangle([pad, pad, pad + width, pad + height], fill=(30, 30, 30))
    y = 2 * pad
    for text, color, shape, _ in rows:
        sym = [2 * pad, y + 1, 2 * pad + size - 2, y + size - 1]
        if shape == "box":
            draw.rectangle(sym, outline=color, width=lw)
        else:
            draw.ellipse(sym, outline=color, width=lw)
        draw.text((3 * pad + size, y), text, fill=color, font=font)
        y += size + pad
    return np.asarray(img)


def record_boxes(rec: ImageRecord) -> np.ndarray:
    """(n,) bool: annotations that came from a box (their ``"box"`` field), drawn as boxes."""
    extras = rec.ann_extra or [{} for _ in range(rec.count)]
    return np.array([_box(e) is not None for e in extras], dtype=bool)


def _box(extra: dict) -> list | None:
    b = extra.get(BOX_KEY)
    return b if isinstance(b, list) and len(b) == 4 and all(is_num(v) for v in b) else None


def draw_record(rgb: np.ndarray, rec: ImageRecord, color: Color = PRIMARY, scores: bool = False,
                width: int | None = None) -> np.ndarray:
    """Draw one image's annotations, rescaled from the recorded size to ``rgb``'s size:
    circles, or boxes for annotations that came from boxes."""
    h, w = rgb.shape[:2]
    sx, sy = w / rec.width, h / rec.height
    is_box = record_boxes(rec)
    c = rec.circles.scaled(sx, sy)
    out = draw_circles(rgb, c[~is_box], color, width, scores)
    if is_box.any():
        extras = rec.ann_extra or []
        boxes = np.array([_box(e) for e, b in zip(extras, is_box) if b], dtype=np.float64)
        boxes = boxes * np.array([sx, sy, sx, sy])
        sc = c.score[is_box] if scores and c.score is not None else None
        out = draw_boxes(out, boxes, color, width, sc)
    return out


def overlay(rgb: np.ndarray, rec: ImageRecord | None, *, compare: ImageRecord | None = None,
            labels: tuple[str, str] = ("annotations", "compare"), scores: bool = False,
            px_per_mm: float | None = None, colors: tuple[Color, Color] = (PRIMARY, SECONDARY),
            legend: bool | None = None, width: int | None = None) -> np.ndarray:
    """The full overlay of one photo: ``rec``'s lesions, ``compare``'s in the second colour
    (a legend with counts is added when comparing), and a 1 mm bar when ``px_per_mm`` is
    given (pixels per mm at ``rec``'s recorded size; rescaled with the circles)."""
    out = np.asarray(rgb)
    sets = [(r, lab, col) for r, lab, col in zip((rec, compare), labels, colors) if r is not None]
    for r, _, col in sets:
        out = draw_record(out, r, col, scores, width)
    if legend or (legend is None and compare is not None):
        entries = []
        for r, lab, col in sets:
            shape = "box" if r.count and record_boxes(r).all() else "circle"
            entries.append((f"{lab} ({r.count})", col, shape))
        out = draw_legend(out, entries)
    if px_per_mm is not None:
        ref = rec if rec is not None else compare
        sx = out.shape[1] / ref.width if ref is not None else 1.0
        out = draw_scale_bar(out, px_per_mm * sx)
    return out


def fit(rgb: np.ndarray, cell: int) -> np.ndarray:
    """Resize to fit in ``cell`` x ``cell`` keeping the aspect ratio."""
    h, w = rgb.shape[:2]
    k = cell / max(h, w)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return np.asarray(Image.fromarray(np.asarray(rgb)).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def contact_sheet(tiles: list[tuple[np.ndarray, str]], cols: int | None = None, cell: int = 320) -> np.ndarray:
    """One image of ``tiles`` (rgb, caption) in a grid of ``cell``-pixel cells with captions."""
    if not tiles:
        raise ValueError("contact_sheet needs at least one tile")
    cols = cols or math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    size = max(11, cell // 20)
    cap = size + 6
    sheet = Image.new("RGB", (cols * cell, rows * (cell + cap)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for i, (rgb, caption) in enumerate(tiles):
        r, c = divmod(i, cols)
        tile = fit(rgb, cell)
        x0 = c * cell + (cell - tile.shape[1]) // 2
        y0 = r * (cell + cap) + (cell - tile.shape[0]) // 2
        sheet.paste(Image.fromarray(tile), (x0, y0))
        draw.text((c * cell + 3, r * (cell + cap) + cell + 2), caption, fill=(230, 230, 230), font=_font(size))
    return np.asarray(sheet)
