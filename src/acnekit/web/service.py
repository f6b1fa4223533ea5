"""The one place the web app touches acnekit's assessment code (`acnekit.assess`,
`acnekit.report`): photo bytes in, assessment JSON out; an edited assessment in, the same
JSON with its summary recomputed; an edited assessment plus the photo in, the HTML report out.

Everything here is synchronous and CPU-bound; the app runs it in its worker pool. Client
data is only ever data: the uploaded file's name becomes a bare label (never a path), and
an edited assessment is validated with `acnekit.validate.parse_dataset` (strict) before use.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

import numpy as np

from acnekit import __version__
from acnekit.assess import annotated_image, assess_photo, counted, summarise
from acnekit.circles import Circles
from acnekit.errors import AcneKitError, DatasetError, ImageError, short_repr
from acnekit.face.geometry import FaceGeometry
from acnekit.face.regions import NAMES
from acnekit.grading import HAYASHI_UPPER
from acnekit.imageio import encode_image, image_size
from acnekit.scale import Scale, ScaleError, check_in_image, from_px_per_mm, from_ruler, resolve_scale
from acnekit.validate import parse_dataset

MAX_LESIONS = 20_000  # an edited assessment with more annotations is refused
_NAME_CHARS = 120
# Plausible physical scales of a face photo: 0.5 px/mm (a 640 px photo 1.3 m wide) to
# 1000 px/mm (a 1 um pixel, beyond dermoscopy). Outside this a value is a typo, not a scale.
PPM_MIN, PPM_MAX = 0.5, 1000.0
MAX_SIDE = 100_000  # an image side in an assessment JSON
MAX_TEXT = 200  # model name, reviewer and other short strings in an edited assessment
MAX_META = 16 * 1024  # JSON size of summary.model and of info
MAX_FACE = 64 * 1024  # JSON size of summary.face (its geometry is a few KB)
STATEMENT = ("acnekit is a research tool, not a medical device: its counts, sizes and grades are not a "
             "diagnosis and must be reviewed by a clinician.")
SOURCES = ("model", "added")
FLAG_KEYS = ("graded", "in_skin", "removed")  # per-lesion booleans passed through edits


class TooLarge(AcneKitError):
    """An upload is over the byte or pixel limit (HTTP 413)."""


def upload_label(filename: str | None) -> str:
    """A display label for an uploaded file: its last path component, printable characters
    only, at most 120 characters; ``upload`` when nothing usable is left. Never a path."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()[:_NAME_CHARS]
    return base if base not in ("", ".", "..") else "upload"


def check_pixels(data: bytes, label: str, max_pixels: int) -> tuple[int, int]:
    """The upright (width, height) from the header only; `TooLarge` over ``max_pixels``."""
    w, h = image_size(data, name=label, max_pixels=2**62)
    if w * h > max_pixels:
        raise TooLarge(f"image is {w}x{h} = {w * h / 1e6:.1f} MP, over this server's pixel limit of "
                       f"{max_pixels / 1e6:.1f} MP", path=label)
    return w, h


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_plausible(scale: Scale, where: str = "px_per_mm") -> Scale:
    """`ScaleError` (422) for a scale outside [PPM_MIN, PPM_MAX] px/mm: 1e308 or 1e-308 would
    overflow the mm figures, and 0.0001 px/mm is a typo, not a face photo."""
    ppm = scale.px_per_mm
    if ppm is not None and not (PPM_MIN <= ppm <= PPM_MAX):
        raise ScaleError(f"{ppm:.4g} px/mm is outside the plausible range {PPM_MIN:g} to {PPM_MAX:g} px/mm for a "
                         "face photo", where=where)
    return scale


def assess_upload(data: bytes, filename: str | None, detector, *, max_pixels: int, px_per_mm: float | None = None,
                  ruler: str | None = None, bands: Sequence[int] = HAYASHI_UPPER) -> dict[str, Any]:
    """Assessment JSON of an uploaded photo (the same content as ``acnekit assess``), with
    the photo's SHA-256 recorded in ``images[0].sha256`` (the report checks it)."""
    label = upload_label(filename)
    check_plausible(resolve_scale(px_per_mm, ruler), "ruler" if ruler else "px_per_mm")
    check_pixels(data, label, max_pixels)
    a = assess_photo(bytes(data), detector, px_per_mm=px_per_mm, ruler=ruler, bands=bands,
                     name=label, max_pixels=max_pixels)
    d = a.to_dict()
    d["images"][0]["sha256"] = sha256(data)
    anns = d["annotations"]
    d["summary"]["edits"] = {"detected": len(anns), "added": 0, "removed": 0,
                             "outside_skin": sum(x.get("in_skin") is False for x in anns),
                             "counted": d["summary"]["count"]}
    return d


# ---------------------------------------------------------------------------- edited assessments
def _scale_of(summary: Any) -> Scale:
    """The scale recorded in an assessment's ``summary.scale`` (ruler, given px/mm, or none)."""
    sc = summary.get("scale") if isinstance(summary, dict) else None
    if sc is None:
        return Scale()
    if not isinstance(sc, dict):
        raise DatasetError(f"must be an object, got {short_repr(sc)}", where="summary.scale")
    ruler = sc.get("ruler")
    if ruler is not None:
        if not (isinstance(ruler, dict) and isinstance(ruler.get("p1"), list) and isinstance(ruler.get("p2"), list)
                and len(ruler["p1"]) == 2 and len(ruler["p2"]) == 2):
            raise DatasetError(f"must be {{p1: [x, y], p2: [x, y], mm}}, got {short_repr(ruler)}",
                               where="summary.scale.ruler")
        return check_plausible(from_ruler([*ruler["p1"], *ruler["p2"], ruler.get("mm")]), "summary.scale.ruler")
    if sc.get("px_per_mm") is not None:
        scale = from_px_per_mm(sc["px_per_mm"])
        source = sc.get("source")
        if isinstance(source, str) and source and len(source) <= 20:
            # manual, iris, ...: recorded as the client gives it, with the iris scale's uncertainty and note
            note = sc.get("note") if isinstance(sc.get("note"), str) else None
            scale = Scale(scale.px_per_mm, source, uncertainty=_num_or_none(sc.get("uncertainty")),
                          note=note[:300] if note else None)
        return check_plausible(scale, "summary.scale.px_per_mm")
    return Scale()


def _num_or_none(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) else None


def _circles_of(obj: dict[str, Any], max_pixels: int) -> tuple[dict[str, Any], list[dict[str, Any]], Circles]:
    """Validate an edited assessment (one image) and return its image record, its
    annotations (each with its per-lesion fields) and all circles; scores are kept where
    present (NaN for lesions added by hand)."""
    anns = obj.get("annotations") if isinstance(obj, dict) else None
    if isinstance(anns, list) and len(anns) > MAX_LESIONS:
        raise DatasetError(f"{len(anns)} annotations, more than the {MAX_LESIONS} accepted", where="annotations")
    ims = obj.get("images")
    if isinstance(ims, list):
        for i, im in enumerate(ims[:1]):
            for k in ("width", "height"):
                v = im.get(k) if isinstance(im, dict) else None
                if isinstance(v, (int, float)) and not isinstance(v, bool) and not (0 < v <= MAX_SIDE):
                    raise DatasetError(f"must be between 1 and {MAX_SIDE} px, got {short_repr(v)}",
                                       where=f"images[{i}].{k}")
    ds, _ = parse_dataset(obj)  # strict: raises DatasetError naming the JSON path and value
    if len(ds.images) != 1:
        raise DatasetError(f"an assessment holds exactly one image, got {len(ds.images)}", where="images")
    rec = ds.images[0]
    if rec.width * rec.height > max_pixels:
        raise DatasetError(f"image is {rec.width}x{rec.height}, over this server's pixel limit of "
                           f"{max_pixels / 1e6:.1f} MP", where="images[0]")
    c = rec.circles
    extras = list(rec.ann_extra or [{} for _ in range(len(c))])
    if c.score is None and len(c):
        score = np.full(len(c), np.nan)
        for i, extra in enumerate(extras):
            if "score" in extra:
                score[i] = float(extra["score"])
        c = Circles(c.xy, c.radius, score)
    lesions = []
    for i, extra in enumerate(extras):
        where = f"annotations[{i}]"
        keep: dict[str, Any] = {}
        for k in FLAG_KEYS:
            if k in extra:
                if not isinstance(extra[k], bool):
                    raise DatasetError(f"must be true or false, got {short_repr(extra[k])}", where=f"{where}.{k}")
                keep[k] = extra[k]
        if "source" in extra:
            if extra["source"] not in SOURCES:
                raise DatasetError(f"must be one of {list(SOURCES)}, got {short_repr(extra['source'])}",
                                   where=f"{where}.source")
            keep["source"] = extra["source"]
        if "graded_score" in extra:
            v = extra["graded_score"]
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1):
                raise DatasetError(f"must be a number in [0, 1], got {short_repr(v)}", where=f"{where}.graded_score")
            keep["graded_score"] = float(v)
        if "region" in extra:
            v = extra["region"]
            if not (v is None or (isinstance(v, str) and len(v) <= 40)):
                raise DatasetError(f"must be a short string or null, got {short_repr(v)}", where=f"{where}.region")
            keep["region"] = v
        lesions.append(keep)
    image = {"id": 0, "file_name": rec.file_name, "width": int(rec.width), "height": int(rec.height)}
    digest = (rec.extra or {}).get("sha256")
    if digest is not None:
        if not (isinstance(digest, str) and len(digest) == 64 and all(ch in "0123456789abcdef" for ch in digest)):
            raise DatasetError(f"must be 64 lower-case hex digits, got {short_repr(digest)}", where="images[0].sha256")
        image["sha256"] = digest
    return image, lesions, c


def _small(value: Any, where: str) -> None:
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        raise DatasetError("must be plain JSON with finite numbers", where=where) from None
    if size > MAX_META:
        raise DatasetError(f"is {size} bytes of JSON, over the {MAX_META} accepted", where=where)


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise DatasetError(f"must be a string of at most {MAX_TEXT} characters, got {short_repr(value)}", where=where)
    return value


def _model_of(summary: Any) -> dict[str, Any] | None:
    """The model description an edited assessment carries, checked: a short name, a score
    threshold in [0, 1], a small working_scale object; None when absent."""
    model = summary.get("model") if isinstance(summary, dict) else None
    if model is None:
        return None
    if not isinstance(model, dict):
        raise DatasetError(f"must be an object, got {short_repr(model)}", where="summary.model")
    _small(model, "summary.model")
    _text(model.get("name"), "summary.model.name")
    thr = model.get("score_threshold")
    if thr is not None and not (isinstance(thr, (int, float)) and not isinstance(thr, bool) and 0 <= thr <= 1):
        raise DatasetError(f"must be a number in [0, 1], got {short_repr(thr)}", where="summary.model.score_threshold")
    ws = model.get("working_scale")
    if ws is not None and not isinstance(ws, dict):
        raise DatasetError(f"must be an object, got {short_repr(ws)}", where="summary.model.working_scale")
    return model


MAX_WARNINGS = 10


def _warnings_of(summary: Any) -> list[str] | None:
    """The photo's warnings (``summary.warnings``, e.g. a grayscale photo) an edited assessment
    carries: they describe the photo, not the edits, so they are kept; at most 10 strings of at
    most 300 characters each; None when absent."""
    w = summary.get("warnings") if isinstance(summary, dict) else None
    if w is None:
        return None
    if not (isinstance(w, list) and len(w) <= MAX_WARNINGS and all(isinstance(x, str) and len(x) <= 300 for x in w)):
        raise DatasetError(f"must be a list of at most {MAX_WARNINGS} short strings, got {short_repr(w)}",
                           where="summary.warnings")
    return list(w) or None


def _info_of(obj: dict[str, Any], model: dict[str, Any] | None) -> dict[str, Any]:
    """``info`` with the reviewer's fields checked and the provenance this server vouches for."""
    info = obj.get("info")
    if info is None:
        info = {}
    if not isinstance(info, dict):
        raise DatasetError(f"must be an object, got {short_repr(info)}", where="info")
    _small(info, "info")
    out = {k: v for k, v in info.items() if k in ("description", "reviewer", "reviewed_at", "exported_at", "note")}
    for k, v in out.items():
        _text(v, f"info.{k}")
    out.setdefault("description", "acnekit assessment of one photo")
    out["acnekit_version"] = __version__
    out["model"] = (model or {}).get("name")
    out["statement"] = STATEMENT
    return out


@dataclass(eq=False)
class Edited:
    """An edited assessment: every lesion (removed and outside-skin ones kept) and the summary
    of the counted ones."""

    image: dict[str, Any]
    circles: Circles  # all lesions
    lesions: list[dict[str, Any]]  # per-lesion fields of each (source, removed, in_skin, graded, ...)
    info: dict[str, Any]
    summary: dict[str, Any]

    @property
    def keep(self) -> np.ndarray:
        return np.array([counted(x) for x in self.lesions], dtype=bool)

    def edits(self) -> dict[str, int]:
        added = [x.get("source") == "added" for x in self.lesions]
        removed = [bool(x.get("removed")) for x in self.lesions]
        return {"detected": sum(not a for a in added), "added": sum(a and not r for a, r in zip(added, removed)),
                "removed": sum(removed), "outside_skin": sum(x.get("in_skin") is False and not x.get("removed")
                                                             for x in self.lesions),
                "counted": int(self.keep.sum())}

    def to_dict(self) -> dict[str, Any]:
        c = self.circles
        score = c.score if c.score is not None else np.full(len(c), np.nan)
        anns = [{"id": i, "image_id": 0, "coordinates": [float(x), float(y)], "radius": float(r),
                 "class_name": "acne", **({} if math.isnan(s) else {"score": float(s)}), **extra}
                for i, ((x, y), r, s, extra) in enumerate(zip(c.xy, c.radius, score, self.lesions))]
        return {"images": [dict(self.image)], "annotations": anns, "info": dict(self.info),
                "summary": {**self.summary, "edits": self.edits()}}


def _face_of(summary: Any, width: int, height: int) -> tuple[dict[str, Any] | None, FaceGeometry | None]:
    """``summary.face`` (None when absent) and its geometry, checked (None when absent: old JSON)."""
    face = summary.get("face") if isinstance(summary, dict) and isinstance(summary.get("face"), dict) else None
    if face is None:
        return None, None
    size = len(json.dumps(face, allow_nan=True, default=str))
    if size > MAX_FACE:
        raise DatasetError(f"is {size} bytes of JSON, over the {MAX_FACE} accepted", where="summary.face")
    if face.get("geometry") is None:
        return face, None
    return face, FaceGeometry.from_json(face["geometry"], "summary.face.geometry", (width, height))


def derive_flags(lesions: list[dict[str, Any]], xy: np.ndarray, geometry: FaceGeometry) -> None:
    """Give lesions without ``in_skin`` (added by hand, or moved: the page drops the flags)
    their ``in_skin`` and ``region`` from the assessment's face geometry, as assess gives a
    detected one; a lesion kept on skin by the reviewer (``in_skin`` true, restored) without
    a region gets the region of its nearest anchor. Other flags are left as they are."""
    todo = [i for i, x in enumerate(lesions) if "in_skin" not in x or (x["in_skin"] and x.get("region") is None)]
    if not todo:
        return
    ins, labels = geometry.flags(xy[todo])
    nearest = geometry.region_index(xy[todo])
    for i, k, lab, near in zip(todo, ins, labels, nearest):
        if "in_skin" not in lesions[i]:
            lesions[i].update(in_skin=bool(k), region=lab)
        else:
            lesions[i]["region"] = NAMES[near]


def graded_of(lesions: list[dict[str, Any]], model: dict[str, Any] | None) -> np.ndarray | None:
    """Per lesion, whether the reference grade counts it: its ``graded`` flag (a lesion
    without one, e.g. added by hand, is not graded). None when the assessment knows nothing of
    grading (no lesion has the flag and ``summary.model.graded`` is absent)."""
    if not (any("graded" in x for x in lesions) or (model or {}).get("graded")):
        return None
    return np.array([x.get("graded", False) for x in lesions], dtype=bool)


def rebuild(obj: Any, *, max_pixels: int = 2**62, bands: Sequence[int] = HAYASHI_UPPER) -> Edited:
    """An edited assessment JSON object checked, its summary recomputed by
    `acnekit.assess.summarise` over the counted lesions and their ``graded`` flags (the
    client's summary is never trusted, only its scale, model description, face analysis and
    warnings are carried over). Lesions without ``in_skin`` get it, and their ``region``,
    from ``summary.face.geometry`` when the assessment carries one (`derive_flags`)."""
    if not isinstance(obj, dict):
        raise DatasetError(f"top level must be a JSON object, got {type(obj).__name__}", where="$")
    image, lesions, circles = _circles_of(obj, max_pixels)
    summary_in = obj.get("summary")
    if summary_in is not None and not isinstance(summary_in, dict):
        raise DatasetError(f"must be an object, got {short_repr(summary_in)}", where="summary")
    scale = _scale_of(summary_in)
    check_in_image(scale, image["width"], image["height"], image["file_name"])
    model = _model_of(summary_in)
    face, geometry = _face_of(summary_in, image["width"], image["height"])
    if geometry is not None and len(circles):
        derive_flags(lesions, circles.xy, geometry)
    keep = np.array([counted(x) for x in lesions], dtype=bool)
    kept = Circles(circles.xy[keep], circles.radius[keep], None if circles.score is None else circles.score[keep])
    regions = [{"region": x.get("region")} for x, k in zip(lesions, keep) if k]  # summary.regions (acnekit.face)
    graded = graded_of(lesions, model)
    summary = summarise(kept, image["width"], image["height"], graded=None if graded is None else graded[keep],
                        scale=scale, bands=bands, model=model, lesion_extra=regions if face else None, face=face)
    if isinstance(summary.get("face"), dict):  # summarise saw only the counted lesions
        summary["face"]["outside_skin"] = sum(x.get("in_skin") is False and not x.get("removed") for x in lesions)
    warnings = _warnings_of(summary_in)
    if warnings:
        summary["warnings"] = warnings
    return Edited(image, circles, lesions, _info_of(obj, model), summary)


def resummarise(obj: Any, *, max_pixels: int = 2**62, bands: Sequence[int] = HAYASHI_UPPER) -> dict[str, Any]:
    """The edited assessment as canonical assessment JSON with a fresh summary."""
    return rebuild(obj, max_pixels=max_pixels, bands=bands).to_dict()


ADDED_COLOR = (255, 212, 0)  # hand-added circles in the report (detected ones: acnekit.draw.PRIMARY)


def _provenance_html(d: dict[str, Any]) -> str:
    e = html.escape
    info, im, s = d["info"], d["images"][0], d["summary"]
    ed = s["edits"]
    model = (s.get("model") or {}).get("name") or "unknown"
    rows = [("exported", info.get("exported_at") or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
            ("reviewer", info.get("reviewer") or "(not given)"), ("acnekit version", info["acnekit_version"]),
            ("model", model), ("photo SHA-256", im.get("sha256") or "(not recorded)"),
            ("lesions detected by the model", ed["detected"]), ("added by the reviewer", ed["added"]),
            ("removed by the reviewer (not counted)", ed["removed"]),
            ("outside the skin (not counted)", ed["outside_skin"]), ("counted", ed["counted"])]
    body = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
    return (f'<section class="provenance"><p class="caveat"><b>{e(STATEMENT)}</b></p>'
            f"<h2>Provenance and review</h2><table>{body}</table>"
            "<p><small>Circles: green = detected by the model, thick cyan = detected and counted by the reference "
            "grade, yellow = added by the reviewer; removed circles "
            "are not drawn.</small></p></section>")


def report_html(obj: Any, data: bytes, filename: str | None, *, max_pixels: int,
                bands: Sequence[int] = HAYASHI_UPPER) -> tuple[str, str]:
    """The HTML report of an edited assessment of the uploaded photo ``data``, and the
    photo's name in the assessment. The photo must be the one assessed: the SHA-256 recorded
    in ``images[0].sha256`` (else, for older JSON, the size)."""
    from acnekit.assess import load_photo
    from acnekit.draw import draw_circles
    from acnekit.report import render_report

    a = rebuild(obj, max_pixels=max_pixels, bands=bands)
    label = upload_label(filename)
    w, h = check_pixels(data, label, max_pixels)
    if (w, h) != (a.image["width"], a.image["height"]):
        raise ImageError(f"photo is {w}x{h} px but the assessment is for a {a.image['width']}x{a.image['height']} "
                         f"photo ({a.image['file_name']!r}); upload the photo that was assessed", path=label)
    want = a.image.get("sha256")
    if want is not None and sha256(data) != want:
        raise ImageError(f"photo's SHA-256 {sha256(data)[:12]}... differs from the {want[:12]}... recorded for "
                         f"{a.image['file_name']!r}; upload the photo that was assessed", path=label)
    rgb = load_photo(bytes(data), name=label, max_pixels=max_pixels)
    d = a.to_dict()
    keep = a.keep
    added = np.array([x.get("source") == "added" for x in a.lesions], dtype=bool)
    c = a.circles

    def subset(m: np.ndarray) -> Circles:
        return Circles(c.xy[m], c.radius[m])

    graded = graded_of(a.lesions, a.summary.get("model"))
    shown = keep & ~added
    extra = [("added by reviewer", ADDED_COLOR, "circle")] if (keep & added).any() else []
    disp = annotated_image(rgb, subset(shown), a.summary["scale"]["px_per_mm"],
                           graded=None if graded is None else graded[shown], legend_extra=extra)
    sx, sy = disp.shape[1] / w, disp.shape[0] / h
    if (keep & added).any():
        disp = draw_circles(disp, subset(keep & added).scaled(sx, sy), color=ADDED_COLOR)
    jpg = encode_image(disp, "JPEG", quality=90)
    page = render_report(d, disp, image_bytes=jpg)
    i = page.find("</h1>")
    i = i + 5 if i >= 0 else page.find("<body>") + 6
    return page[:i] + _provenance_html(d) + page[i:], a.image["file_name"]
