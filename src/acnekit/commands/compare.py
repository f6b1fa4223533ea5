"""`acnekit compare BEFORE AFTER --out DIR [--px-per-mm X | --ruler X1,Y1,X2,Y2,MM] [--force]`

Assess both photos, register AFTER onto BEFORE, match the lesions one-to-one and write
DIR/comparison.json, DIR/side_by_side.jpg and DIR/report.html, atomically (all three or
none). Photos that cannot be registered are refused with one line (exit 2), nothing written.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from acnekit.assess import MIN_SIDE, check_score_thr, commit, make_parent, stage_dir, write_files
from acnekit.compare.core import FAINT_FACTOR
from acnekit.commands._common import add_tta_arg, apply_tta, print_json
from acnekit.errors import AcneKitError, ImageError, OutputError
from acnekit.imageio import image_size
from acnekit.scale import resolve_scale


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="compare two visits of one face: persisting, new and resolved lesions",
        description="Compare two photos of one face taken at different visits: assess both, register AFTER onto "
                    "BEFORE (face landmarks as a seed when both photos show a face, refined and verified on skin-texture keypoints + RANSAC), match lesions one-to-one, and write DIR/"
                    "comparison.json, DIR/side_by_side.jpg and DIR/report.html. Photos that cannot be "
                    "registered (another face or region) are refused.")
    p.add_argument("before", metavar="BEFORE", help="the earlier photo")
    p.add_argument("after", metavar="AFTER", help="the later photo")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--px-per-mm", type=float, metavar="X", help="BEFORE's scale in pixels per millimetre "
                   "(AFTER's follows from the registration)")
    g.add_argument("--ruler", metavar="X1,Y1,X2,Y2,MM", help="BEFORE's scale from two ruler points (BEFORE's pixels)")
    p.add_argument("--model", metavar="PATH", help="detector weights (.safetensors; default: the shipped model)")
    p.add_argument("--score-thr", type=float, metavar="T", help="detection score threshold (default: the model's)")
    p.add_argument("--faint-factor", type=float, default=FAINT_FACTOR, metavar="F",
                   help="hysteresis: an unmatched lesion is still persisting when the other photo has a detection "
                        f"scoring at least F x the threshold at its place (default {FAINT_FACTOR}; 0: off)")
    add_tta_arg(p)
    p.add_argument("--max-pixels", type=int, metavar="N", help="refuse photos with more pixels (default 64 MP)")
    p.add_argument("--force", action="store_true", help="replace acnekit's own outputs in an existing DIR")
    p.add_argument("--json", action="store_true", help="print the counts, changes and registration as JSON")
    p.set_defaults(func=run)


def load_detector(path: str | None):
    """The detector (module-level so tests can substitute a fake one)."""
    from acnekit.detector.infer import Detector

    return Detector.load(path)


def check_out(out_dir: Path, force: bool, inputs: list[Path]) -> None:
    from acnekit.compare.report import OUTPUT_NAMES

    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError("output path exists and is not a folder", path=out_dir)
    if out_dir.exists() and not force:
        raise OutputError("output folder exists; pass --force to replace its outputs", path=out_dir)
    for src in inputs:
        if src.exists() and src.resolve().parent == out_dir.resolve() and src.name in OUTPUT_NAMES:
            raise OutputError("refusing to overwrite an input file; choose another output folder", path=src)


def _line(d: dict, out: Path) -> str:
    c, q = d["counts"], d["registration"]["quality"]
    ch = d["changes"]["count"]
    rg = d["changes"].get("reference_grade") or {}
    grade = f"; grade {rg['before']} -> {rg['after']}" if rg.get("before") and rg.get("after") else ""
    pct = "" if ch["percent"] is None else f" ({ch['percent']:+.0f}%)"
    return (f"{d['photos']['before']['file_name']} -> {d['photos']['after']['file_name']}: "
            f"{c['before']} -> {c['after']} lesions; {c['persisting']} persisting, {c['new']} new, "
            f"{c['resolved']} resolved; count in the common region {ch['before']} -> {ch['after']}{pct}{grade}; "
            f"registration ({d['registration'].get('method', 'texture')}) {q['inliers']} inliers ({q['inlier_ratio']:.0%}), median error "
            f"{q['median_reprojection_error_px']:.1f} px -> {out}/")


def run(args: argparse.Namespace) -> int:
    from acnekit.compare.core import compare_photos
    from acnekit.compare.report import render_outputs

    resolve_scale(args.px_per_mm, args.ruler)
    check_score_thr(args.score_thr)
    if not (0.0 <= args.faint_factor <= 1.0):
        raise AcneKitError(f"must be a number in [0, 1], got {args.faint_factor}", where="--faint-factor")
    if args.max_pixels is not None and args.max_pixels <= 0:
        raise AcneKitError(f"must be a positive integer, got {args.max_pixels}", where="--max-pixels")
    photos = [Path(args.before), Path(args.after)]
    for photo in photos:
        if not photo.is_file():
            raise ImageError("no such photo", path=photo)
        w, h = image_size(photo, max_pixels=args.max_pixels)
        if w < MIN_SIDE or h < MIN_SIDE:
            raise ImageError(f"image is {w}x{h} px, smaller than the minimum {MIN_SIDE}x{MIN_SIDE}", path=photo)
    out_dir = Path(args.out)
    check_out(out_dir, args.force, photos)
    detector = load_detector(args.model)
    apply_tta(detector, args.tta)
    cmp = compare_photos(photos[0], photos[1], detector, px_per_mm=args.px_per_mm, ruler=args.ruler,
                         score_thr=args.score_thr, faint_factor=args.faint_factor or None,
                         max_pixels=args.max_pixels)
    d = cmp.to_dict()
    files = render_outputs(d, cmp.before.rgb, cmp.after.rgb)
    make_parent(out_dir.parent)
    staged = stage_dir(out_dir.parent, out_dir.name)
    try:
        write_files(staged, files)
        commit(staged, out_dir, force=args.force)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    if args.json:
        print_json({"out_dir": str(out_dir), "files": sorted(files), "counts": d["counts"], "changes": d["changes"],
                    "registration": d["registration"]})
    else:
        print(_line(d, out_dir))
    return 0
