"""A self-contained HTML report of one assessment: the annotated photo (embedded, base64),
the summary table, a lesion-size histogram (inline SVG), how the reference grade was reached
(graded-lesion count, bands, probabilities, caveat), the all-lesion count band, and the model
and scale used. Every text value is HTML-escaped. Old assessments without a reference grade
(``summary.grade`` null or absent) show the count band only."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

import numpy as np

from acnekit.imageio import encode_image


def page_css(max_width_rem: int, extra: str) -> str:
    """The style sheet the HTML reports share (this one and `acnekit.compare.report`): page
    width ``max_width_rem``, then each report's own rules ``extra``."""
    return (f"""
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#222;max-width:{max_width_rem}rem}}
h1{{font-size:1.4rem}}h2{{font-size:1.1rem;margin-top:1.6rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}
th{{background:#f3f3f3}}.num{{text-align:right;font-variant-numeric:tabular-nums}}
.photo{{max-width:100%;height:auto;border:1px solid #999}}.caveat{{background:#fff6d6;padding:.6rem;border-left:4px solid #d9a400}}
""" + extra)


_CSS = page_css(70, """.band-hit{background:#dff3df;font-weight:bold}small{color:#555}
.key-graded{color:#008fb3;font-weight:bold}.key-other{color:#1a8f1a;font-weight:bold}
""")


def _e(v: Any) -> str:
    return escape(str(v), quote=True)


def _f(v: Any, digits: int = 2) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, (bool, np.bool_)):
        return _e(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{digits}f}"


def histogram_svg(hist: dict[str, Any], width: int = 480, height: int = 220) -> str:
    """Inline SVG bar chart of ``{"quantity", "edges", "counts"}``."""
    counts, edges = hist.get("counts") or [], hist.get("edges") or []
    q = _e(hist.get("quantity", ""))
    if not counts:
        return f'<p><small>no lesions: no size histogram ({q})</small></p>'
    left, bottom, top, right = 40, 36, 10, 24
    pw, ph = width - left - right, height - top - bottom
    cmax = max(max(counts), 1)
    bw = pw / len(counts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="histogram of lesion {q}">',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>',
             f'<text x="{left - 4}" y="{top + 10}" font-size="11" text-anchor="end">{cmax}</text>',
             f'<text x="{left - 4}" y="{top + ph}" font-size="11" text-anchor="end">0</text>']
    for i, c in enumerate(counts):
        bh = ph * c / cmax
        x = left + i * bw
        parts.append(f'<rect x="{x + 1:.1f}" y="{top + ph - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" '
                     f'fill="#3a7d44"><title>{_f(edges[i])}&ndash;{_f(edges[i + 1])}: {int(c)}</title></rect>')
    for i in (0, len(counts) // 2, len(counts)):
        parts.append(f'<text x="{left + i * bw:.1f}" y="{top + ph + 14}" font-size="11" '
                     f'text-anchor="middle">{_f(edges[i])}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 4}" font-size="12" text-anchor="middle">'
                 f'lesion {q} (lesions per bin)</text></svg>')
    return "".join(parts)


def _rows(rows: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{_e(k)}</th><td class='num'>{v}</td></tr>" for k, v in rows)


def _sizes_table(sizes: dict[str, Any]) -> str:
    keys = [k for k in ("radius_px", "radius_mm", "diameter_mm") if sizes.get(k)]
    if not keys:
        return "<p><small>no lesions</small></p>"
    cols = list(sizes[keys[0]].keys())
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join(f"<tr><th>{_e(k)}</th>" + "".join(f"<td class='num'>{_f(sizes[k][c])}</td>" for c in cols)
                   + "</tr>" for k in keys)
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def _regions_html(s: dict[str, Any]) -> str:
    """Face and per-region figures (``summary.face``, ``summary.regions``); empty for old JSON."""
    face, regions = s.get("face"), s.get("regions")
    if not face:
        return ""
    if not face.get("found"):
        return f"<h2>Face</h2><p><small>{_e(face.get('note', 'no face found'))}</small></p>"
    out = (f"<h2>Face regions</h2><p><small>Lesions outside the facial-skin mask (hair, background, eyes, "
           f"brows, lips, nostrils) are kept in assessment.json with in_skin false and not counted: "
           f"{_f(face.get('outside_skin', 0))} here.</small></p>")
    if regions:
        mm = any("area_mm2" in r for r in regions.values())
        head = ("<tr><th>region</th><th>lesions</th><th>lesion area (" + ("mm²" if mm else "px²") + ")</th>"
                "<th>skin area (cm²)</th><th>lesions per cm²</th></tr>")
        body = "".join(f"<tr><th>{_e(n.replace('_', ' '))}</th><td class='num'>{_f(r.get('count'))}</td>"
                       f"<td class='num'>{_f(r.get('area_mm2', r.get('area_px2')), 1)}</td>"
                       f"<td class='num'>{_f(r.get('skin_area_cm2'), 1)}</td><td class='num'>{_f(r.get('per_cm2'), 3)}</td></tr>"
                       for n, r in regions.items())
        out += f"<table>{head}{body}</table><p><small>left/right: the subject's own sides.</small></p>"
    return out


def _bands_table(grade: dict[str, Any], what: str = "lesion count") -> str:
    probs = grade.get("probabilities")
    cells = []
    for g, label in enumerate(grade["labels"]):
        cls = " class='band-hit'" if g == grade["grade"] else ""
        p = f"<td class='num'>{_f(probs[g], 2)}</td>" if probs else ""
        cells.append(f"<tr{cls}><td>{g}</td><td>{_e(label)}</td>{p}</tr>")
    head = "<th>probability</th>" if probs else ""
    return f"<table><tr><th>grade</th><th>{_e(what)}</th>{head}</tr>" + "".join(cells) + "</table>"


def _grade_html(grade: dict[str, Any] | None, band: dict[str, Any] | None) -> str:
    parts = []
    if grade:
        parts.append(f"<h2>How the grade was reached</h2><p>{_e(grade['explanation'])}.</p>"
                     f"{_bands_table(grade, 'graded lesions')}<p class='caveat'>{_e(grade['caveat'])}</p>")
    else:
        parts.append("<h2>Grade</h2><p>No reference grade: this assessment has no graded lesions "
                     "(made without a graded head).</p>")
    if band:
        parts.append(f"<h2>All-lesion count band</h2><p>{_e(band['explanation'])}.</p>{_bands_table(band)}"
                     f"<p class='caveat'>{_e(band['caveat'])}</p>")
    return "".join(parts)


def render_report(assessment: dict[str, Any], rgb: np.ndarray, *, image_bytes: bytes | None = None) -> str:
    """The HTML page for an assessment dict (`Assessment.to_dict()`) and the annotated image
    ``rgb`` (embedded as JPEG; pass ``image_bytes`` to embed an already-encoded JPEG)."""
    s = assessment["summary"]
    im = assessment["images"][0]
    data = image_bytes if image_bytes is not None else encode_image(rgb, "JPEG", quality=90)
    b64 = base64.b64encode(data).decode("ascii")
    sc, grade, sev, model = s["scale"], s.get("grade"), s["severity"], s.get("model") or {}
    # old assessments: summary.grade was the all-lesion count band and there was no count_band
    band = s.get("count_band") or (grade if grade and grade.get("method") == "hayashi-count-bands" else None)
    grade = grade if grade and grade.get("method") != "hayashi-count-bands" else None
    mm = sc.get("px_per_mm") is not None
    rows = [("photo", _e(im["file_name"])), ("size (px)", f"{im['width']} &times; {im['height']}")]
    if grade:
        rows += [("grade (reference)", f"<b>{grade['grade']} &ndash; {_e(grade['name'])}</b>"),
                 ("graded lesions (counted by the grade)", _f(grade["count"]))]
    rows += [("lesions", _f(s["count"])), ("total lesion area (px²)", _f(s["total_area_px2"], 1)),
             ("total lesion area (mm²)", _f(s["total_area_mm2"])),
             ("lesion area (% of photo)", _f(sev["inputs"]["area_percent"], 3))]
    if band:
        rows.append(("all-lesion count band", f"{band['grade']} &ndash; {_e(band['name'])}"))
    rows.append(("severity score (0–100)", _f(sev["score"], 1)))
    key = ("<p><small>Circles: <span class='key-graded'>cyan, thick</span> = counted by the grade; "
           "<span class='key-other'>green</span> = other detected lesions.</small></p>") if grade else ""
    unc = f" &plusmn; {_f(sc['uncertainty'], 2)}" if sc.get("uncertainty") else ""
    scale_txt = (f"{_f(sc['px_per_mm'], 3)}{unc} px/mm ({_e(sc['source'])})" + (f"; {_e(sc['note'])}" if sc.get("note") else "")
                 if mm else _e(sc.get("note") or ""))
    ws = model.get("working_scale") or {}
    warns = s.get("warnings") or []
    warn_html = "".join(f"<p class='caveat'><b>Warning:</b> {_e(w)}</p>" for w in warns if isinstance(w, str))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>acnekit assessment: {_e(im['file_name'])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>Acne assessment: {_e(im['file_name'])}</h1>
{warn_html}<img class="photo" alt="photo with the {_f(s['count'])} detected lesions circled" src="data:image/jpeg;base64,{b64}">
{key}<p><small>Display copy; lesion coordinates in assessment.json are in the photo's own pixels.</small></p>
<h2>Summary</h2><table>{_rows(rows)}</table>
{_regions_html(s)}
<h2>Lesion sizes</h2>{_sizes_table(s['sizes'])}
{histogram_svg(s['sizes']['histogram'])}
{_grade_html(grade, band)}
<h2>Severity score</h2><p>{_e(sev['formula'])}: n = {_f(sev['inputs']['count'])}, p = {_f(sev['inputs']['area_percent'], 3)}
&rarr; <b>{_f(sev['score'], 1)}</b>.</p>
<h2>Model and scale</h2>
<table>{_rows([("model", _e(model.get('name', 'unknown'))),
               ("working scale", _e(', '.join(f'{k}={v}' for k, v in ws.items()))),
               ("score threshold", _f(model.get('score_threshold'), 3)),
               ("graded head", _e((model.get('graded') or {}).get('name', 'none'))),
               ("graded threshold", _f((model.get('graded') or {}).get('threshold'), 3)), ("scale", scale_txt)])}</table>
</body></html>
"""
