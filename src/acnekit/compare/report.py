"""Outputs of a comparison: the side-by-side image (BEFORE | AFTER warped onto BEFORE, matched
lesions linked, new and resolved marked) and a self-contained HTML report; `render_outputs`
gives the three files' bytes by name."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from acnekit.compare.register import warp_after
from acnekit.draw import _font, draw_legend, line_width, text_size
from acnekit.imageio import encode_image, resize_rgb
from acnekit.report import _e, _f, page_css

JSON_NAME = "comparison.json"
SIDE_BY_SIDE = "side_by_side.jpg"
REPORT = "report.html"
OUTPUT_NAMES = (JSON_NAME, SIDE_BY_SIDE, REPORT)
PANEL_MAX_SIDE = 1600  # each panel's long side at most this many pixels
GAP = 8
PERSISTING = (0, 230, 0)
RESOLVED = (0, 200, 255)  # cyan squares: was there before, gone after
NEW = (255, 0, 255)  # magenta squares: appeared after
OUTSIDE = (160, 160, 160)  # not in the region both photos show
LINK = (255, 255, 0)
REGION = (255, 255, 255)  # outline of the compared region


def panel_scale(before_hw: tuple[int, int], max_side: int = PANEL_MAX_SIDE) -> float:
    return min(1.0, max_side / max(before_hw))


def side_by_side_size(before_hw: tuple[int, int], max_side: int = PANEL_MAX_SIDE) -> tuple[int, int]:
    """(width, height) of the side-by-side image for a BEFORE photo of ``before_hw``."""
    k = panel_scale(before_hw, max_side)
    h, w = max(1, round(before_hw[0] * k)), max(1, round(before_hw[1] * k))
    return 2 * w + GAP, h + _header(h, w)


def _header(h: int, w: int) -> int:
    return text_size(h, w) + 12


def side_by_side(before_rgb: np.ndarray, after_rgb: np.ndarray, comparison: dict[str, Any],
                 max_side: int = PANEL_MAX_SIDE) -> np.ndarray:
    """BEFORE (its lesions) | AFTER warped into BEFORE's frame (its lesions mapped), persisting
    pairs linked by lines, resolved and new lesions in squares, lesions outside the common
    region in grey, and a legend. One display copy, ``max_side`` px per panel at most."""
    hb, wb = before_rgb.shape[:2]
    k = panel_scale((hb, wb), max_side)
    left = resize_rgb(before_rgb, max(1, round(wb * k)), max(1, round(hb * k))) if k < 1 else before_rgb
    ph, pw = left.shape[:2]
    right = warp_after(after_rgb, np.asarray(comparison["registration"]["matrix"]), (hb, wb), scale=pw / wb)
    head = _header(ph, pw)
    canvas = Image.new("RGB", (2 * pw + GAP, ph + head), (24, 24, 24))
    canvas.paste(Image.fromarray(np.ascontiguousarray(left)), (0, head))
    canvas.paste(Image.fromarray(np.ascontiguousarray(right[:ph, :pw])), (pw + GAP, head))
    draw = ImageDraw.Draw(canvas)
    lw = line_width(ph, pw)
    size = text_size(ph, pw)
    names = comparison["photos"]
    draw.text((4, 4), f"BEFORE: {names['before']['file_name']}", fill=(235, 235, 235), font=_font(size))
    draw.text((pw + GAP + 4, 4), f"AFTER (registered): {names['after']['file_name']}", fill=(235, 235, 235),
              font=_font(size))
    sx, sy = pw / wb, ph / hb
    bann = {a["id"]: a for a in comparison["assessments"]["before"]["annotations"]}
    colours = {"persisting": PERSISTING, "resolved": RESOLVED, "new": NEW, "outside": OUTSIDE}

    def mark(x: float, y: float, r: float, status: str, dx: float) -> tuple[float, float]:
        cx, cy, cr = x * sx + dx, y * sy + head, max(2.0, r * (sx + sy) / 2)
        box = [cx - cr, cy - cr, cx + cr, cy + cr]
        if status in ("new", "resolved"):
            pad = lw + 2
            draw.rectangle([box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad], outline=colours[status], width=lw)
        draw.ellipse(box, outline=colours[status], width=lw)
        return cx, cy

    poly = comparison.get("common_region", {}).get("polygon") or []
    if len(poly) >= 3:  # the compared region, in both panels
        for dx in (0.0, pw + GAP):
            pts = [(x * sx + dx, y * sy + head) for x, y in poly]
            draw.line(pts + pts[:1], fill=REGION, width=max(1, lw // 2))
    pos_b = {}
    for row in comparison["lesions"]["before"]:
        if row.get("reason") == "removed":  # deleted by hand: not drawn
            continue
        a = bann[row["id"]]
        pos_b[row["id"]] = mark(*a["coordinates"], a["radius"], row["status"], 0.0)
    pos_a = {}
    for row in comparison["lesions"]["after"]:
        if row.get("reason") == "removed":
            continue
        pos_a[row["id"]] = mark(*row["coordinates_in_before"], row["radius_in_before"], row["status"], pw + GAP)
    for link in comparison["links"]:
        draw.line([pos_b[link["before"]], pos_a[link["after"]]], fill=LINK, width=max(1, lw // 2))
    c = comparison["counts"]
    linked = c.get("persisting_linked", c["persisting"])
    legend = [("compared region", REGION, "box"),
              (f"persisting ({c['persisting']}; {linked} linked)", PERSISTING, "circle"),
              (f"resolved ({c['resolved']})", RESOLVED, "box"), (f"new ({c['new']})", NEW, "box")]
    if c.get("before_outside", 0) or c.get("after_outside", 0):
        legend.append((f"outside common region ({c['before_outside']} | {c['after_outside']})", OUTSIDE, "circle"))
    out = np.asarray(canvas)
    top = draw_legend(out[head:], legend)
    return np.concatenate([out[:head], top], axis=0)


# ---------------------------------------------------------------------------- HTML
_CSS = page_css(80, "small{color:#555}\n")
CAVEAT = ("The registration is one 2-D similarity transform; a face is not flat, so lesions far from where "
          "the texture matched may be misplaced. A lesion the detector misses in one visit shows as new or "
          "resolved; lesions outside the region both photos show are left out of the change figures. "
          "Research tool, not a medical device.")


def _change_rows(changes: dict[str, Any]) -> str:
    labels = [("count", "lesions", 0), ("graded_count", "graded lesions", 0), ("area_px2", "lesion area (px², before frame)", 0),
              ("area_mm2", "lesion area (mm²)", 2), ("density", "density", 3),
              ("severity_score", "severity score (whole photo, 0–100)", 1), ("grade", "grade (whole photo)", 0)]
    rows = []
    for key, label, d in labels:
        ch = changes.get(key) or {}
        if ch.get("before") is None and ch.get("after") is None:
            continue
        unit = f" ({_e(ch['unit'])})" if ch.get("unit") else ""
        pct = "&ndash;" if ch.get("percent") is None else f"{ch['percent']:+.0f}%"
        rows.append(f"<tr><th>{_e(label)}{unit}</th><td class='num'>{_f(ch.get('before'), d)}</td>"
                    f"<td class='num'>{_f(ch.get('after'), d)}</td><td class='num'>{_f(ch.get('change'), d)}</td>"
                    f"<td class='num'>{pct}</td></tr>")
    return ("<table><tr><th></th><th>before</th><th>after</th><th>change</th><th>%</th></tr>"
            + "".join(rows) + "</table>")


def _grade_rows(changes: dict[str, Any]) -> str:
    """Each photo's own whole-photo grades and the scale's sources."""
    rows = []
    for key, label in (("reference_grade", "reference grade (graded lesions)"),
                       ("count_band", "count band (all counted lesions)")):
        g = changes.get(key)
        if not g:
            continue
        cnt = g.get("count") or {}
        rows.append(f"<tr><th>{_e(label)}</th><td>{_e(g.get('before') or '-')} ({_f(cnt.get('before'))})</td>"
                    f"<td>{_e(g.get('after') or '-')} ({_f(cnt.get('after'))})</td><td class='num'>{_f(g.get('change'))}</td></tr>")
    sc = changes.get("scale")
    if sc:
        b, a = sc.get("before") or {}, sc.get("after") or {}
        rows.append(f"<tr><th>scale (px/mm)</th><td>{_f(b.get('px_per_mm'), 2)} ({_e(b.get('source') or '-')})</td>"
                    f"<td>{_f(a.get('px_per_mm'), 2)} ({_e(a.get('source') or '-')})</td><td></td></tr>")
    if not rows:
        return ""
    return ("<table><tr><th>whole photo</th><th>before (count)</th><th>after (count)</th><th>change</th></tr>"
            + "".join(rows) + "</table>")


def render_report(comparison: dict[str, Any], image_bytes: bytes) -> str:
    c, reg, ph = comparison["counts"], comparison["registration"], comparison["photos"]
    q = reg["quality"]
    b64 = base64.b64encode(image_bytes).decode("ascii")
    hy = comparison.get("hysteresis") or {}
    hyst = (f", score {hy['faint_threshold']:.3g} to {hy['operating_threshold']:.3g}"
            if hy.get("faint_threshold") is not None else "; off for this comparison")
    counts = "".join(f"<tr><th>{_e(k)}</th><td class='num'>{int(v)}</td></tr>" for k, v in c.items())
    regrows = [("method", _e(reg.get("method", "texture"))), ("model", _e(reg["model"])), ("scale (after → before)", _f(reg["scale"], 4)),
               ("rotation (degrees)", _f(reg["rotation_deg"], 2)),
               ("shift (px)", _e(", ".join(f"{v:.1f}" for v in reg["translation_px"]))),
               ("keypoint matches", _f(q["matches"])), ("RANSAC inliers", _f(q["inliers"])),
               ("inlier ratio", _f(q["inlier_ratio"], 3)),
               ("median reprojection error (px)", _f(q["median_reprojection_error_px"], 2)),
               ("common region (share of before)", _f(comparison["common_region"]["share_of_before"], 3))]
    regtab = "".join(f"<tr><th>{_e(k)}</th><td class='num'>{v}</td></tr>" for k, v in regrows)
    matrix = _e(json.dumps([[round(v, 6) for v in row] for row in reg["matrix"]]))
    links = "".join(f"<tr><td class='num'>{lk['before']}</td><td class='num'>{lk['after']}</td>"
                    f"<td class='num'>{_f(lk['distance_px'], 1)}</td><td class='num'>{_f(lk['radius_before_px'], 1)}</td>"
                    f"<td class='num'>{_f(lk['radius_after_px'], 1)}</td></tr>" for lk in comparison["links"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>acnekit comparison: {_e(ph['before']['file_name'])} → {_e(ph['after']['file_name'])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>Comparison: {_e(ph['before']['file_name'])} (before) → {_e(ph['after']['file_name'])} (after)</h1>
<img class="photo" alt="before and after side by side: {c['persisting']} persisting, {c['new']} new, {c['resolved']} resolved lesions" src="data:image/jpeg;base64,{b64}">
<p><small>Left: before, with its lesions. Right: after, warped onto the before photo. Green circles linked
by yellow lines persist (green circles without a line persist by hysteresis: the other photo has a
detection below the threshold there{hyst}); cyan squares are resolved (before only); magenta squares are new
(after only); grey: outside the compared region (white outline: where both photos overlap and the
registration has keypoint support). Coordinates in comparison.json are in the photos'
own pixels.</small></p>
<h2>Lesions</h2><table>{counts}</table>
<h2>Change</h2>{_change_rows(comparison['changes'])}{_grade_rows(comparison['changes'])}
<p><small>Counts, area and density over the region both photos show; severity score and grade are each
photo's own.</small></p>
<h2>Registration</h2><table>{regtab}</table>
<p><small>Matrix (after px → before px): <code>{matrix}</code>. {_e(reg.get('description') or reg['method'])}.</small></p>
<p class="caveat">{_e(CAVEAT)}</p>
<h2>Links</h2>
<table><tr><th>before id</th><th>after id</th><th>distance (px)</th><th>radius before (px)</th><th>radius after (px, before frame)</th></tr>{links}</table>
</body></html>
"""


def render_outputs(comparison: dict[str, Any], before_rgb: np.ndarray, after_rgb: np.ndarray) -> dict[str, bytes]:
    """The three output files' contents, by name."""
    img = side_by_side(before_rgb, after_rgb, comparison)
    jpg = encode_image(img, "JPEG", quality=88)
    return {JSON_NAME: (json.dumps(comparison, indent=1, allow_nan=False) + "\n").encode(),
            SIDE_BY_SIDE: jpg, REPORT: render_report(comparison, jpg).encode("utf-8")}
