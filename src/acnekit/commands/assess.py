"""`acnekit assess PHOTO_OR_DIR... [--out DIR] [--px-per-mm X | --ruler X1,Y1,X2,Y2,MM] ...`

Per photo a folder OUT/<photo stem>/ with annotated.jpg, assessment.json and report.html;
with several photos also OUT/summary.csv. All-or-nothing: every output is first written into
a hidden temporary folder in OUT and moved into place only when every photo succeeded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from acnekit.assess import (MIN_SIDE, OUTPUT_NAMES, assess_photo, check_out_dir, check_score_thr, commit, make_parent,
                            render_outputs, stage_dir, write_files)
from acnekit.atomic import check_output
from acnekit.csvsafe import csv_text
from acnekit.commands._common import add_tta_arg, apply_tta, print_json
from acnekit.errors import AcneKitError, ImageError
from acnekit.grading import HAYASHI_UPPER, parse_bands
from acnekit.imageio import image_size, list_images
from acnekit.scale import resolve_scale

SUMMARY_CSV = "summary.csv"
CSV_COLUMNS = ("file", "out_dir", "width", "height", "count", "total_area_px2", "total_area_mm2", "grade",
               "grade_name", "calibrated_grade", "severity", "px_per_mm", "model", "score_threshold")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "assess", help="detect, count, size and grade lesions on photos; annotated image + JSON + HTML report",
        description="Assess photos: for each photo, a folder OUT/<photo stem>/ with annotated.jpg (circles, "
                    "1 mm bar when the scale is known), assessment.json (lesions in Acne04-v2 form + summary) "
                    "and report.html (self-contained). Several photos also give OUT/summary.csv.")
    p.add_argument("inputs", nargs="+", metavar="PHOTO_OR_DIR", help="photos, or folders of photos")
    p.add_argument("--out", default="assessments", metavar="DIR", help="output folder (default: ./assessments)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--px-per-mm", type=float, metavar="X", help="physical scale: pixels per millimetre")
    g.add_argument("--ruler", metavar="X1,Y1,X2,Y2,MM",
                   help="physical scale from two points on a ruler (upright photo pixels) MM millimetres apart")
    p.add_argument("--model", metavar="PATH", help="detector weights (.safetensors; default: the shipped model)")
    p.add_argument("--score-thr", type=float, metavar="T", help="detection score threshold (default: the model's)")
    add_tta_arg(p)
    p.add_argument("--bands", default=",".join(map(str, HAYASHI_UPPER)), metavar="5,20,50",
                   help="grade bands: inclusive upper lesion counts of each grade but the last (default 5,20,50)")
    p.add_argument("--calibration", metavar="CAL.json|default",
                   help="add a calibrated grade ('default': the one shipped, Acne04-v2 circles vs ACNE04 grades)")
    p.add_argument("--max-pixels", type=int, metavar="N", help="refuse photos with more pixels (default 64 MP)")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    p.add_argument("--json", action="store_true", help="print the summaries as JSON instead of one line per photo")
    p.set_defaults(func=run)


def load_detector(path: str | None):
    """The detector (a module-level function so tests can substitute a fake one)."""
    from acnekit.detector.infer import Detector

    return Detector.load(path)


def _targets(photos: list[Path], out_root: Path) -> list[Path]:
    seen: dict[str, Path] = {}
    for p in photos:
        if p.stem in seen:
            raise ImageError(f"two photos share the name {p.stem!r} ({seen[p.stem]} and {p}): their output "
                             "folders would clash; assess them separately", path=p)
        if p.stem.startswith("."):
            raise ImageError("photo name starts with '.', cannot name an output folder after it", path=p)
        seen[p.stem] = p
    return [out_root / p.stem for p in photos]


def _line(photo: Path, out: Path, s: dict) -> str:
    g = s["grade"]
    text = (f"{photo}: {s['count']} lesions, grade {g['grade']} ({g['name']}, count band {g['band']}), "
            f"severity {s['severity']['score']:.1f}/100")
    if s.get("calibrated_grade"):
        text += f", calibrated grade {s['calibrated_grade']['grade']} ({s['calibrated_grade']['name']})"
    if s["total_area_mm2"] is not None:
        text += f", lesion area {s['total_area_mm2']:.1f} mm2"
    return text + f" -> {out}{os.sep}"


def _csv_row(photo: Path, out: Path, d: dict) -> list:
    s, im = d["summary"], d["images"][0]
    cal = s.get("calibrated_grade")
    return [str(photo), str(out), im["width"], im["height"], s["count"], f"{s['total_area_px2']:.2f}",
            "" if s["total_area_mm2"] is None else f"{s['total_area_mm2']:.4f}", s["grade"]["grade"],
            s["grade"]["name"], "" if cal is None else cal["grade"], f"{s['severity']['score']:.2f}",
            "" if s["scale"]["px_per_mm"] is None else s["scale"]["px_per_mm"], s["model"]["name"],
            s["model"]["score_threshold"]]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    # Everything that can be checked is checked before any work or any write.
    resolve_scale(args.px_per_mm, args.ruler)
    check_score_thr(args.score_thr)
    try:
        bands = parse_bands(args.bands)
    except ValueError as exc:
        raise AcneKitError(str(exc), where="--bands") from None
    if args.max_pixels is not None and args.max_pixels <= 0:
        raise AcneKitError(f"must be a positive integer, got {args.max_pixels}", where="--max-pixels")
    photos = list_images(args.inputs)
    out_root = Path(args.out)
    if out_root.exists() and not out_root.is_dir():
        raise AcneKitError("output path exists and is not a folder", path=out_root)
    targets = _targets(photos, out_root)
    for photo, target in zip(photos, targets):
        check_out_dir(target, force=args.force, inputs=[photo])
    csv_path = out_root / SUMMARY_CSV
    if len(photos) > 1:
        check_output(csv_path, overwrite=args.force, inputs=photos)
    for photo in photos:  # headers only: unreadable or oversized photos fail before any detection
        w, h = image_size(photo, max_pixels=args.max_pixels)
        if w < MIN_SIDE or h < MIN_SIDE:
            raise ImageError(f"image is {w}x{h} px, smaller than the minimum {MIN_SIDE}x{MIN_SIDE}", path=photo)
    calibration = None
    if args.calibration:
        from acnekit.calibrate import load_calibration

        calibration = load_calibration(args.calibration)
    detector = load_detector(args.model)
    apply_tta(detector, args.tta)
    created = not out_root.exists()
    make_parent(out_root)
    staged = stage_dir(out_root, "acnekit-assess")
    results = []
    ok = False
    try:
        # no bar for one photo, nor when stderr is not a terminal (disable=None)
        bar = tqdm(photos, desc="assess", unit="photo", file=sys.stderr, leave=False,
                   disable=True if len(photos) < 2 else None)
        for photo, target in zip(bar, targets):
            a = assess_photo(photo, detector, px_per_mm=args.px_per_mm, ruler=args.ruler, score_thr=args.score_thr,
                             bands=bands, calibration=calibration, max_pixels=args.max_pixels)
            folder = staged / target.name
            folder.mkdir()
            write_files(folder, render_outputs(a, a.rgb))
            results.append((photo, target, a.to_dict()))
            a.rgb = None  # free the photo before the next one
        if len(photos) > 1:
            text = csv_text([CSV_COLUMNS, *(_csv_row(p, t, d) for p, t, d in results)])  # formula-safe
            write_files(staged, {SUMMARY_CSV: text.encode("utf-8")})
        for _, target, _ in results:
            commit(staged / target.name, target, force=args.force)
        if len(photos) > 1:
            os.replace(staged / SUMMARY_CSV, csv_path)
        ok = True
    except OSError as exc:
        raise AcneKitError(f"cannot write outputs ({exc.strerror or exc})", path=out_root) from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        if not ok and created:
            try:
                out_root.rmdir()  # only if still empty: nothing was committed
            except OSError:
                pass

    if args.json:
        print_json([{"photo": str(p), "out_dir": str(t), "files": list(OUTPUT_NAMES), **d["summary"]}
                    for p, t, d in results])
    else:
        for p, t, d in results:
            print(_line(p, t, d["summary"]))
        if len(photos) > 1:
            print(f"{len(photos)} photos assessed; summary: {csv_path}")
    return 0
