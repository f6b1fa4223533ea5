"""The one place the web app touches acnekit's assessment code (`acnekit.assess`,
`acnekit.report`): photo bytes in, assessment JSON out; an edited assessment in, the same
JSON with its summary recomputed; an edited assessment plus the photo in, the HTML report out.

Everything here is synchronous and CPU-bound; the app runs it in its worker pool. Client
data is only ever data: the uploaded file's name becomes a bare label (never a path), and
an edited assessment is validated with `acnekit.validate.parse_dataset` (strict) before use.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from acnekit.assess import REPORT, Assessment, assess_photo, render_outputs, summarise
from acnekit.circles import Circles
from acnekit.errors import AcneKitError, DatasetError, ImageError, short_repr
from acnekit.grading import HAYASHI_UPPER
from acnekit.imageio import image_size
from acnekit.scale import Scale, from_iris, from_px_per_mm, from_ruler
from acnekit.validate import parse_dataset

MAX_LESIONS = 20_000  # an edited assessment with more annotations is refused
_NAME_CHARS = 120


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


def assess_upload(data: bytes, filename: str | None, detector, *, max_pixels: int, px_per_mm: float | None = None,
                  ruler: str | None = None, bands: Sequence[int] = HAYASHI_UPPER, calibration=None) -> dict[str, Any]:
    """Assessment JSON of an uploaded photo (the same content as ``acnekit assess``)."""
    label = upload_label(filename)
    check_pixels(data, label, max_pixels)
    a = assess_photo(bytes(data), detector, px_per_mm=px_per_mm, ruler=ruler, bands=bands,
                     calibration=calibration, name=label, max_pixels=max_pixels)
    return a.to_dict()


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
        return from_ruler([*ruler["p1"], *ruler["p2"], ruler.get("mm")])
    if sc.get("px_per_mm") is not None:
        if sc.get("source") == "iris":  # measured from the iris: keep source, uncertainty, note
            return from_iris(from_px_per_mm(sc["px_per_mm"]).px_per_mm, _num_or_none(sc.get("uncertainty")),
                             str(sc.get("note") or "iris"))
        return from_px_per_mm(sc["px_per_mm"])
    return Scale()


def _num_or_none(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) else None


def _circles_of(obj: dict[str, Any]) -> tuple[str, int, int, Circles]:
    """Validate an edited assessment (one image) and return its name, size and circles;
    scores are kept where present (NaN for lesions added by hand)."""
    anns = obj.get("annotations") if isinstance(obj, dict) else None
    if isinstance(anns, list) and len(anns) > MAX_LESIONS:
        raise DatasetError(f"{len(anns)} annotations, more than the {MAX_LESIONS} accepted", where="annotations")
    ds, _ = parse_dataset(obj)  # strict: raises DatasetError naming the JSON path and value
    if len(ds.images) != 1:
        raise DatasetError(f"an assessment holds exactly one image, got {len(ds.images)}", where="images")
    rec = ds.images[0]
    c = rec.circles
    if c.score is None and len(c):
        score = np.full(len(c), np.nan)
        for i, extra in enumerate(rec.ann_extra or []):
            if "score" in extra:
                score[i] = float(extra["score"])
        c = Circles(c.xy, c.radius, score)
    return rec.file_name, int(rec.width), int(rec.height), c


def _model_of(summary: Any) -> dict[str, Any] | None:
    model = summary.get("model") if isinstance(summary, dict) else None
    return model if isinstance(model, dict) else None


def rebuild(obj: Any, *, bands: Sequence[int] = HAYASHI_UPPER, calibration=None) -> Assessment:
    """An `Assessment` from an edited assessment JSON object, its summary recomputed by
    `acnekit.assess.summarise` (the client's summary is never trusted, only its scale and
    model description are carried over)."""
    if not isinstance(obj, dict):
        raise DatasetError(f"top level must be a JSON object, got {type(obj).__name__}", where="$")
    name, w, h, circles = _circles_of(obj)
    summary_in = obj.get("summary")
    extra = _face_flags_of(obj)
    face = summary_in.get("face") if isinstance(summary_in, dict) and isinstance(summary_in.get("face"), dict) else None
    summary = summarise(circles, w, h, scale=_scale_of(summary_in), bands=bands, calibration=calibration,
                        model=_model_of(summary_in), lesion_extra=extra, face=face)
    return Assessment(name, w, h, circles, summary, lesion_extra=extra)


def _face_flags_of(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Per-lesion ``in_skin`` / ``region`` of the edited assessment (None when no lesion has them)."""
    anns = obj.get("annotations") or []
    keys = ("in_skin", "region")
    if not any(isinstance(a, dict) and any(k in a for k in keys) for a in anns):
        return None
    return [{k: a[k] for k in keys if k in a} if isinstance(a, dict) else {} for a in anns]


def resummarise(obj: Any, *, bands: Sequence[int] = HAYASHI_UPPER, calibration=None) -> dict[str, Any]:
    """The edited assessment as canonical assessment JSON with a fresh summary."""
    return rebuild(obj, bands=bands, calibration=calibration).to_dict()


def report_html(obj: Any, data: bytes, filename: str | None, *, max_pixels: int,
                bands: Sequence[int] = HAYASHI_UPPER, calibration=None) -> tuple[str, str]:
    """The HTML report of an edited assessment of the uploaded photo ``data``, and the
    photo's name in the assessment. The photo must have the size the assessment records."""
    from acnekit.assess import load_photo

    a = rebuild(obj, bands=bands, calibration=calibration)
    label = upload_label(filename)
    w, h = check_pixels(data, label, max_pixels)
    if (w, h) != (a.width, a.height):
        raise ImageError(f"photo is {w}x{h} px but the assessment is for a {a.width}x{a.height} photo "
                         f"({a.file_name!r}); upload the photo that was assessed", path=label)
    rgb = load_photo(bytes(data), name=label, max_pixels=max_pixels)
    return render_outputs(a, rgb)[REPORT].decode("utf-8"), a.file_name
