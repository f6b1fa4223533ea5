"""Assess one photo: detect lesions, then count, size, grade and score them.

`assess_photo` reads a photo (path or uploaded bytes), runs a detector and returns an
`Assessment`; `Assessment.to_dict()` is the assessment JSON: the lesions in Acne04-v2 form
(one image with the photo's own upright size; annotations with coordinates, radius and
score) plus a ``summary``. `summarise` computes that summary from any lesion list (pure, so
the web page can recompute it after edits). `write_outputs` writes the annotated image,
``assessment.json`` and ``report.html`` into one folder, atomically.

The annotated image (and the copy embedded in the report) is a display copy: photos whose
long side exceeds ``DISPLAY_MAX_SIDE`` pixels are downscaled to it first. Circles in the
JSON are always in the full-resolution photo's pixels.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from acnekit import __version__
from acnekit.circles import Circles
from acnekit.errors import AcneKitError, ImageError, OutputError, short_repr
from acnekit.grading import COUNT_CAVEAT, HAYASHI_UPPER, band_labels, check_bands, grade_name, hayashi_grade
from acnekit.imageio import encode_image, jpeg_quality, read_image_info, resize_rgb
from acnekit.reference_grade import reference_grade
from acnekit.scale import Scale, check_in_image, from_px_per_mm, resolve_scale
from acnekit.severity import severity

MIN_SIDE = 32
DISPLAY_MAX_SIDE = 2048
HIST_BINS = 10
ANNOTATED = "annotated.jpg"
JSON_NAME = "assessment.json"
REPORT = "report.html"
OUTPUT_NAMES = (ANNOTATED, JSON_NAME, REPORT)
PERCENTILES = (10, 25, 50, 75, 90)


@dataclass(eq=False)
class Assessment:
    """One assessed photo: its name and upright size, the lesions (photo pixels), the summary."""

    file_name: str
    width: int
    height: int
    circles: Circles
    summary: dict[str, Any]
    rgb: np.ndarray | None = field(default=None, repr=False)  # the upright photo, for drawing
    lesion_extra: list[dict[str, Any]] | None = None  # per lesion: in_skin, region (acnekit.face)
    skin_mask: Any = field(default=None, repr=False)  # acnekit.face.mask.SkinMask, for the overlay
    graded: np.ndarray | None = None  # (n,) bool: the reference grade counts the lesion (None: not known)
    landmarks: Any = field(default=None, repr=False)  # acnekit.face.landmarks.Face (None: no face), for compare

    def to_dict(self) -> dict[str, Any]:
        c = self.circles
        n = len(c)
        score = c.score if c.score is not None else np.full(n, np.nan)
        gscore = c.graded_score if c.graded_score is not None else np.full(n, np.nan)
        graded = [None] * n if self.graded is None else [bool(g) for g in self.graded]
        extra = self.lesion_extra or [{}] * n
        anns = []
        for i, ((x, y), r, s, gs, g, e) in enumerate(zip(c.xy, c.radius, score, gscore, graded, extra)):
            ann = {"id": i, "image_id": 0, "coordinates": [float(x), float(y)], "radius": float(r),
                   "class_name": "acne", **({} if math.isnan(s) else {"score": float(s)}), **e}
            if g is not None:
                ann["graded"] = g
            if not math.isnan(gs):
                ann["graded_score"] = round(float(gs), 4)
            anns.append(ann)
        model = self.summary.get("model") or {}
        info = {"description": "acnekit assessment of one photo", "acnekit_version": __version__,
                "model": model.get("name")}
        if model.get("graded"):
            info["graded_model"] = model["graded"].get("name")
            info["graded_threshold"] = model["graded"].get("threshold")
        return {
            "images": [{"id": 0, "file_name": self.file_name, "width": self.width, "height": self.height}],
            "annotations": anns,
            "info": info,
            "summary": self.summary,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)


# ---------------------------------------------------------------------------- summary (pure)
def counted(lesion: dict[str, Any]) -> bool:
    """Whether an assessment JSON lesion counts: not removed by a reviewer (``"removed": true``)
    and not outside the skin mask (``"in_skin": false``); absent flags count."""
    return not lesion.get("removed", False) and lesion.get("in_skin", True) is not False


def _stats(v: np.ndarray) -> dict[str, float] | None:
    if len(v) == 0:
        return None
    p = np.percentile(v, PERCENTILES)
    return {"min": float(v.min()), **{f"p{q}": float(x) for q, x in zip(PERCENTILES, p)},
            "max": float(v.max()), "mean": float(v.mean())}


def _histogram(v: np.ndarray, quantity: str) -> dict[str, Any]:
    if len(v) == 0:
        return {"quantity": quantity, "edges": [], "counts": []}
    hi = float(v.max())
    hi = hi if hi > 0 else 1.0
    counts, edges = np.histogram(v, bins=HIST_BINS, range=(0.0, hi))
    return {"quantity": quantity, "edges": [float(e) for e in edges], "counts": counts.tolist()}


def summarise(circles: Circles, width: int, height: int, *, graded: Sequence[bool] | None = None,
              px_per_mm: float | None = None, scale: Scale | None = None, bands: Sequence[int] = HAYASHI_UPPER,
              model: dict[str, Any] | None = None, lesion_extra: list[dict[str, Any]] | None = None,
              face: dict[str, Any] | None = None) -> dict[str, Any]:
    """The assessment summary of ``circles`` (photo pixels) on a ``width`` x ``height`` photo.

    ``graded``: per lesion, whether the reference grade counts it; ``summary.grade`` is the
    reference grade of the graded counted lesions (None without flags: no reference grade).
    ``summary.count_band`` is the Hayashi band of the all-lesion count. ``scale`` (or the
    shortcut ``px_per_mm``) gives mm sizes; ``model`` is recorded as is (name, working scale,
    score threshold, graded head). ``lesion_extra`` (per lesion, optional): lesions
    with ``in_skin`` false are not counted; ``region`` feeds ``summary.regions`` with the
    skin areas of ``face`` (``summary.face``, from `acnekit.face.pipeline`). No I/O."""
    from acnekit.face.pipeline import face_summary, flags_of

    if scale is None:
        scale = from_px_per_mm(px_per_mm) if px_per_mm is not None else Scale()
    bands = tuple(int(b) for b in bands)
    check_bands(bands)
    in_skin, regions = flags_of(lesion_extra, len(circles))
    if graded is not None:
        graded = np.asarray(graded, dtype=bool).reshape(-1)
        if graded.shape != (len(circles),):
            raise ValueError(f"graded must have shape ({len(circles)},), got {graded.shape}")
        graded = graded[in_skin]
    fs = face_summary(face, circles.radius, in_skin, regions, scale.px_per_mm)
    circles = circles[in_skin]
    r = np.asarray(circles.radius, dtype=np.float64)
    n = len(r)
    total_px = float(np.sum(np.pi * r**2))
    ppm = scale.px_per_mm
    sizes: dict[str, Any] = {"radius_px": _stats(r)}
    if ppm is not None:
        sizes["radius_mm"] = _stats(r / ppm)
        sizes["diameter_mm"] = _stats(2 * r / ppm)
        sizes["histogram"] = _histogram(r / ppm, "radius_mm")
    else:
        sizes["histogram"] = _histogram(r, "radius_px")
    g = int(hayashi_grade(n, bands))
    labels = band_labels(bands)
    name = grade_name(g, bands)
    count_band = {
        "method": "hayashi-count-bands", "grade": g, "name": name, "count": n, "bands": list(bands),
        "labels": labels, "band": labels[g],
        "explanation": f"{n} lesions fall in the count band {labels[g]} -> grade {g} ({name}); "
                       f"bands (inclusive upper counts) {list(bands)}",
        "caveat": COUNT_CAVEAT,
    }
    out: dict[str, Any] = {
        "count": n,
        "total_area_px2": total_px,
        "total_area_mm2": None if ppm is None else total_px / ppm**2,
        "sizes": sizes,
        "grade": None if graded is None else reference_grade(int(graded.sum()), bands),
        "count_band": count_band,
        "severity": severity(n, total_px, width, height),
        "model": model,
        "scale": scale.to_dict(),
        **fs,
    }
    return out


# ---------------------------------------------------------------------------- one photo
def _model_info(detector, thr: float, working_scale: dict[str, Any] | None = None) -> dict[str, Any]:
    ws = dict(detector.working_scale) if working_scale is None else working_scale
    info = {"name": detector.name, "working_scale": ws, "score_threshold": thr}
    gthr = getattr(detector, "graded_threshold", None)
    if gthr is not None:
        info["graded"] = {"name": detector.graded_card.get("name"), "threshold": gthr}
    return info


def graded_flags(detector, circles: Circles) -> np.ndarray | None:
    """(n,) bool: the lesions whose graded score reaches the detector's graded threshold;
    None when the detector has no graded head."""
    thr = getattr(detector, "graded_threshold", None)
    if thr is None or circles.graded_score is None:
        return None
    return circles.graded_score >= thr


def check_score_thr(score_thr: Any) -> float | None:
    if score_thr is None:
        return None
    try:
        t = float(score_thr)
    except (TypeError, ValueError):
        t = float("nan")
    if not (0.0 <= t <= 1.0):
        raise AcneKitError(f"must be a number in [0, 1], got {short_repr(score_thr)}", where="--score-thr")
    return t


def load_photo(source: str | Path | bytes, *, name: str | None = None, max_pixels: int | None = None,
               notes: list[str] | None = None) -> np.ndarray:
    """The upright RGB photo, refusing images smaller than ``MIN_SIDE`` on a side. A photo
    without full colour is read with a warning, and its note is appended to ``notes``."""
    name = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "upload")
    rgb, note = read_image_info(source, name=name, max_pixels=max_pixels)
    h, w = rgb.shape[:2]
    if w < MIN_SIDE or h < MIN_SIDE:
        raise ImageError(f"image is {w}x{h} px, smaller than the minimum {MIN_SIDE}x{MIN_SIDE}", path=name)
    if note and notes is not None:
        notes.append(note)
    return rgb


def assess_photo(source: str | Path | bytes, detector, *, px_per_mm: float | None = None, ruler: Any = None,
                 score_thr: float | None = None, bands: Sequence[int] = HAYASHI_UPPER,
                 name: str | None = None, max_pixels: int | None = None, face: bool = True) -> Assessment:
    """Read, find the face, detect, summarise. ``source`` is a path or the bytes of an uploaded
    file (``name`` then labels it; default ``upload``). ``ruler`` is ``"X1,Y1,X2,Y2,MM"`` in
    the upright photo's pixels. With a graded head, each lesion gets ``graded`` flags.
    ``face`` (`acnekit.face`): the iris scale when none is given, the face working scale,
    the skin mask and regions; off, or when no face is found, the whole photo is assessed."""
    from acnekit.face.pipeline import analyse_face, choose_scale, lesion_extras, not_found
    from acnekit.face.working import face_working_scale

    scale = resolve_scale(px_per_mm, ruler)
    thr = check_score_thr(score_thr)
    check_bands(bands)
    label = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "upload")
    notes: list[str] = []
    rgb = load_photo(source, name=label, max_pixels=max_pixels, notes=notes)
    h, w = rgb.shape[:2]
    check_in_image(scale, w, h, label)
    fa = analyse_face(rgb) if face else not_found("face analysis off (--no-face): the whole photo is assessed")
    scale = choose_scale(scale, fa)
    work_scale, ws = face_working_scale(fa.face.size_px() if fa.found else None, w, h,
                                        dict(detector.working_scale), fa.summary.get("note", ""))
    if ws.get("low_resolution"):
        notes.append(ws["resolution_note"])
    circles = (detector.predict(rgb, score_thr=thr) if work_scale is None
               else detector.predict(rgb, score_thr=thr, work_scale=work_scale, source_quality=jpeg_quality(source)))
    used_thr = detector.score_threshold if thr is None else thr
    extra = lesion_extras(*fa.lesion_flags(circles.xy)) if fa.found else None
    graded = graded_flags(detector, circles)
    summary = summarise(circles, w, h, graded=graded, scale=scale, bands=bands,
                        model=_model_info(detector, used_thr, ws), lesion_extra=extra, face=fa.summary)
    if notes:
        summary["warnings"] = notes  # e.g. a grayscale photo: far fewer lesions are found
    base = Path(label.replace("\\", "/")).name
    return Assessment(base if base not in ("", ".", "..") else "upload", w, h, circles, summary, rgb,
                      lesion_extra=extra, skin_mask=fa.mask, graded=graded, landmarks=fa.face)


# ---------------------------------------------------------------------------- outputs
def annotated_image(rgb: np.ndarray, circles: Circles, px_per_mm: float | None = None,
                    max_side: int = DISPLAY_MAX_SIDE, in_skin: np.ndarray | None = None,
                    skin_mask: Any = None, graded: np.ndarray | None = None,
                    legend_extra: Sequence[tuple[str, tuple[int, int, int], str]] = ()) -> np.ndarray:
    """The display copy: downscaled to ``max_side`` if larger, circles drawn (those outside the
    skin, ``in_skin`` false, in the second colour), the area outside ``skin_mask`` dimmed when
    given, and a 1 mm bar when the scale is known (left out if 1 mm is wider than the image).
    With ``graded`` flags, the counted lesions the reference grade counts are drawn thicker in
    cyan, with a legend; ``legend_extra`` adds legend rows (for circles the caller draws)."""
    from acnekit.draw import GRADED, PRIMARY, SECONDARY, draw_circles, draw_legend, draw_scale_bar, line_width

    h, w = rgb.shape[:2]
    k = min(1.0, max_side / max(h, w))
    disp = resize_rgb(rgb, max(1, round(w * k)), max(1, round(h * k))) if k < 1 else rgb
    sx, sy = disp.shape[1] / w, disp.shape[0] / h
    if skin_mask is not None:
        from acnekit.face.mask import dim_outside

        disp = dim_outside(disp, skin_mask, sx)
    c = circles.scaled(sx, sy)
    ins = np.ones(len(c), bool) if in_skin is None else np.asarray(in_skin, bool)
    out = draw_circles(disp, c[~ins], color=SECONDARY) if (~ins).any() else disp
    entries: list = []
    if graded is None:
        out = draw_circles(out, c[ins])
        if legend_extra:
            entries.append(("detected", PRIMARY, "circle"))
    else:
        g = np.asarray(graded, bool) & ins
        out = draw_circles(out, c[ins & ~g], PRIMARY)
        out = draw_circles(out, c[g], GRADED, width=2 * line_width(*disp.shape[:2]) + 1)
        entries += [(f"counted by the grade: {int(g.sum())}", GRADED, "circle"),
                    (f"other lesions: {int((ins & ~g).sum())}", PRIMARY, "circle")]
    if (~ins).any() and entries:
        entries.append(("outside the skin (not counted)", SECONDARY, "circle"))
    entries += list(legend_extra)
    if entries:
        out = draw_legend(out, entries)
    if px_per_mm is not None:
        try:
            out = draw_scale_bar(out, px_per_mm * (sx + sy) / 2)
        except ValueError:
            pass  # 1 mm does not fit in the image: no bar
    return out


def render_outputs(assessment: Assessment, rgb: np.ndarray, mask_overlay: bool = False) -> dict[str, bytes]:
    """The three output files' contents, by name; ``mask_overlay`` dims the photo outside the
    facial-skin mask in the annotated image."""
    from acnekit.face.pipeline import flags_of
    from acnekit.report import render_report

    d = assessment.to_dict()
    ins = flags_of(assessment.lesion_extra, len(assessment.circles))[0] if assessment.lesion_extra else None
    disp = annotated_image(rgb, assessment.circles, assessment.summary["scale"]["px_per_mm"], in_skin=ins,
                           skin_mask=assessment.skin_mask if mask_overlay else None, graded=assessment.graded)
    jpg = encode_image(disp, "JPEG", quality=90)
    return {ANNOTATED: jpg, JSON_NAME: (json.dumps(d, indent=1, allow_nan=False) + "\n").encode(),
            REPORT: render_report(d, disp, image_bytes=jpg).encode("utf-8")}


def check_out_dir(out_dir: str | Path, *, force: bool = False, inputs: Sequence[str | Path] = ()) -> Path:
    """Refuse an existing folder without ``force``, a file in the way, or a folder that would
    overwrite one of ``inputs`` (e.g. the photo itself)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError("output path exists and is not a folder", path=out_dir)
    if out_dir.exists() and not force:
        raise OutputError("output folder exists; pass --force to replace its outputs", path=out_dir)
    for src in inputs:
        if Path(src).exists() and Path(src).resolve().parent == out_dir.resolve() \
                and Path(src).name in OUTPUT_NAMES:
            raise OutputError("refusing to overwrite an input file; choose another output folder", path=src)
    return out_dir


def make_parent(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder ({exc.strerror or exc})", path=folder) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError("output folder is not writable", path=folder)


def stage_dir(parent: Path, label: str) -> Path:
    """A fresh hidden temporary folder in ``parent`` (same file system, so renames are atomic);
    `acnekit.atomic.stage_folder`."""
    from acnekit.atomic import stage_folder

    return stage_folder(parent, label)


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    try:
        for fname, data in files.items():
            (folder / fname).write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write outputs ({exc.strerror or exc})", path=folder) from None


def commit(staged: Path, out_dir: Path, *, force: bool = False) -> None:
    """Move a staged folder into place: a rename when ``out_dir`` is new; with ``force``
    into an existing folder, one ``os.replace`` per file."""
    try:
        if not out_dir.exists():
            os.rename(staged, out_dir)
            return
        if not force:
            raise OutputError("output folder exists; pass --force to replace its outputs", path=out_dir)
        for f in sorted(staged.iterdir()):
            os.replace(f, out_dir / f.name)
        staged.rmdir()
    except OSError as exc:
        raise OutputError(f"cannot move outputs into place ({exc.strerror or exc})", path=out_dir) from None


def write_outputs(assessment: Assessment, rgb: np.ndarray, out_dir: str | Path, force: bool = False,
                  inputs: Sequence[str | Path] = ()) -> Path:
    """Write annotated.jpg, assessment.json and report.html into ``out_dir`` atomically: all
    three appear together or none does."""
    out_dir = check_out_dir(out_dir, force=force, inputs=inputs)
    parent = out_dir.parent
    make_parent(parent)
    files = render_outputs(assessment, rgb)
    staged = stage_dir(parent, out_dir.name)
    try:
        write_files(staged, files)
        commit(staged, out_dir, force=force)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return out_dir
