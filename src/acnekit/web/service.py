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
from acnekit.scale import Scale, from_px_per_mm, from_ruler
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
                  ruler: str | None = None, bands: Sequence[int] = HAYASHI_UPPER) -> dict[str, Any]:
    """Assessment JSON of an uploaded photo (the same content as ``acnekit assess``)."""
    label = upload_label(filename)
    check_pixels(data, label, max_pixels)
    a = assess_photo(bytes(data), detector, px_per_mm=px_per_mm, ruler=ruler, bands=bands, name=label,
                     max_pixels=max_pixels)
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
        return from_px_per_mm(sc["px_per_mm"])
    return Scale()


def _circles_of(obj: dict[str, Any]) -> tuple[str, int, int, Circles, np.ndarray | None]:
    """Validate an edited assessment (one image) and return its name, size, circles and
    graded flags; scores and graded scores are kept where present (NaN for lesions added by
    hand). The flags are None when the assessment knows nothing of grading (no lesion has a
    ``graded`` field and ``summary.model.graded`` is absent); otherwise a lesion without
    ``graded: true`` (e.g. one added by hand) is not graded."""
    anns = obj.get("annotations") if isinstance(obj, dict) else None
    if isinstance(anns, list) and len(anns) > MAX_LESIONS:
        raise DatasetError(f"{len(anns)} annotations, more than the {MAX_LESIONS} accepted", where="annotations")
    ds, _ = parse_dataset(obj)  # strict: raises DatasetError naming the JSON path and value
    if len(ds.images) != 1:
        raise DatasetError(f"an assessment holds exactly one image, got {len(ds.images)}", where="images")
    rec = ds.images[0]
    c = rec.circles
    extras = rec.ann_extra or [{} for _ in range(len(c))]
    score = c.score
    if score is None and len(c):
        score = np.array([float(e["score"]) if "score" in e else np.nan for e in extras])
    gscore = np.array([_number(e.get("graded_score"), f"annotations[{i}].graded_score")
                       for i, e in enumerate(extras)], dtype=np.float64)
    flags = [e.get("graded", False) for e in extras]
    for i, f in enumerate(flags):
        if not isinstance(f, bool):
            raise DatasetError(f"must be true or false, got {short_repr(f)}", where=f"annotations[{i}].graded")
    model = _model_of(obj.get("summary"))
    knows = any("graded" in e for e in extras) or bool(model and model.get("graded"))
    c = Circles(c.xy, c.radius, score, None, gscore if len(c) and not np.isnan(gscore).all() else None)
    return rec.file_name, int(rec.width), int(rec.height), c, (np.array(flags, bool) if knows else None)


def _number(v: Any, where: str) -> float:
    if v is None:
        return float("nan")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise DatasetError(f"must be a number, got {short_repr(v)}", where=where)
    return float(v)


def _model_of(summary: Any) -> dict[str, Any] | None:
    model = summary.get("model") if isinstance(summary, dict) else None
    return model if isinstance(model, dict) else None


def rebuild(obj: Any, *, bands: Sequence[int] = HAYASHI_UPPER) -> Assessment:
    """An `Assessment` from an edited assessment JSON object, its summary recomputed by
    `acnekit.assess.summarise` from the lesions and their ``graded`` flags (the client's
    summary is never trusted, only its scale and model description are carried over)."""
    if not isinstance(obj, dict):
        raise DatasetError(f"top level must be a JSON object, got {type(obj).__name__}", where="$")
    name, w, h, circles, graded = _circles_of(obj)
    summary_in = obj.get("summary")
    summary = summarise(circles, w, h, graded=graded, scale=_scale_of(summary_in), bands=bands,
                        model=_model_of(summary_in))
    return Assessment(name, w, h, circles, summary, graded=graded)


def resummarise(obj: Any, *, bands: Sequence[int] = HAYASHI_UPPER) -> dict[str, Any]:
    """The edited assessment as canonical assessment JSON with a fresh summary."""
    return rebuild(obj, bands=bands).to_dict()


def report_html(obj: Any, data: bytes, filename: str | None, *, max_pixels: int,
                bands: Sequence[int] = HAYASHI_UPPER) -> tuple[str, str]:
    """The HTML report of an edited assessment of the uploaded photo ``data``, and the
    photo's name in the assessment. The photo must have the size the assessment records."""
    from acnekit.assess import load_photo

    a = rebuild(obj, bands=bands)
    label = upload_label(filename)
    w, h = check_pixels(data, label, max_pixels)
    if (w, h) != (a.width, a.height):
        raise ImageError(f"photo is {w}x{h} px but the assessment is for a {a.width}x{a.height} photo "
                         f"({a.file_name!r}); upload the photo that was assessed", path=label)
    rgb = load_photo(bytes(data), name=label, max_pixels=max_pixels)
    return render_outputs(a, rgb)[REPORT].decode("utf-8"), a.file_name
