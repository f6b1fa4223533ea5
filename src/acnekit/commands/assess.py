"""`acnekit assess PHOTO_OR_DIR... [--out DIR] [--px-per-mm X | --ruler X1,Y1,X2,Y2,MM] ...`

Per photo a folder OUT/<photo stem>/ with annotated.jpg, assessment.json and report.html;
with several photos also OUT/summary.csv (a row per photo, with its status and error). Every
photo is checked (header and data) before the model loads, and all bad ones are named at
once; the others are assessed, each photo's folder appearing whole as soon as it is done
(staged in a hidden temporary folder in OUT, then renamed). Exit 1 when some photos failed.
``--fail-fast`` is all-or-nothing: outputs move into place only when every photo succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from acnekit.assess import (JSON_NAME, MIN_SIDE, OUTPUT_NAMES, check_out_dir, check_score_thr, commit, make_parent,
                            write_files)
from acnekit.atomic import check_output
from acnekit.csvsafe import csv_text
from acnekit.commands._common import add_tta_arg, print_json
from acnekit.errors import AcneKitError, ImageError
from acnekit.grading import HAYASHI_UPPER, parse_bands
from acnekit.engines import run_engine
from acnekit.engines.batch import (Progress, add_batch_args, apply_shard, finish, precheck, ray_options, refuse_bad,
                                   settle, warn_bad)
from acnekit.engines.jobs import AssessJob, check_model
from acnekit.engines.staging import clean_stale, owned_stage, signals_as_exceptions
from acnekit.imageio import list_images
from acnekit.scale import resolve_scale

SUMMARY_CSV = "summary.csv"
STAGE_PATTERNS = (".acnekit-assess.*.tmp",)
CSV_COLUMNS = ("file", "out_dir", "width", "height", "count", "total_area_px2", "total_area_mm2", "grade",
               "grade_name", "graded_count", "count_band_grade", "severity", "px_per_mm", "model", "score_threshold",
               "scale_source", "face_found", "outside_skin", "working_scale_rule")


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
    p.add_argument("--no-face", action="store_true",
                   help="skip face analysis (no iris scale, skin mask, regions; photo-area working scale)")
    p.add_argument("--mask-overlay", action="store_true",
                   help="dim the photo outside the facial-skin mask in annotated.jpg")
    p.add_argument("--max-pixels", type=int, metavar="N", help="refuse photos with more pixels (default 64 MP)")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    p.add_argument("--json", action="store_true", help="print the summaries as JSON instead of one line per photo")
    add_batch_args(p)
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
    g, cb = s.get("grade"), s["count_band"]
    if g:
        probs = "/".join(f"{p:.2f}" for p in g["probabilities"])
        text = (f"{photo}: {g['name']} (grade {g['grade']}, reference grade from {g['count']} graded lesions, "
                f"P {probs}), {s['count']} lesions (count band {cb['band']})")
    else:
        text = (f"{photo}: {s['count']} lesions, count band {cb['band']} ({cb['name']}; "
                "no graded head: no reference grade)")
    text += f", severity {s['severity']['score']:.1f}/100"
    if s["total_area_mm2"] is not None:
        text += f", lesion area {s['total_area_mm2']:.1f} mm2"
    return text + f" -> {out}{os.sep}"


def _csv_row(photo: Path, out: Path, d: dict) -> list:
    s, im = d["summary"], d["images"][0]
    g = s.get("grade") or {}
    if g.get("method") == "hayashi-count-bands":  # an older acnekit's JSON (--resume): grade was the count band
        g = {}
    band = s.get("count_band") or {}
    return [str(photo), str(out), im["width"], im["height"], s["count"], f"{s['total_area_px2']:.2f}",
            "" if s["total_area_mm2"] is None else f"{s['total_area_mm2']:.4f}", g.get("grade", ""),
            g.get("name", ""), g.get("count", ""), band.get("grade", ""), f"{s['severity']['score']:.2f}",
            "" if s["scale"]["px_per_mm"] is None else s["scale"]["px_per_mm"], s["model"]["name"],
            s["model"]["score_threshold"], s["scale"].get("source", ""),
            "" if s.get("face") is None else int(bool(s["face"].get("found"))),
            "" if s.get("face") is None else s["face"].get("outside_skin", ""),
            (s["model"].get("working_scale") or {}).get("rule", "")]


def _complete(target: Path) -> dict | None:
    """The assessment JSON of a complete earlier output folder (all three files), else None."""
    if not all((target / n).is_file() for n in OUTPUT_NAMES):
        return None
    try:
        d = json.loads((target / JSON_NAME).read_text())
        return d if isinstance(d, dict) and isinstance(d.get("summary"), dict) and d.get("images") else None
    except (OSError, ValueError):
        return None


def _summary_csv(rows: list[list]) -> bytes:
    """summary.csv, formula-safe (`acnekit.csvsafe`): a photo named ``=...`` never runs in a spreadsheet."""
    return csv_text([CSV_COLUMNS + ("status", "error"), *rows]).encode("utf-8")


def run(args: argparse.Namespace) -> int:
    # Everything that can be checked is checked before any work or any write.
    resolve_scale(args.px_per_mm, args.ruler)
    check_score_thr(args.score_thr)
    try:
        bands = parse_bands(args.bands)
    except ValueError as exc:
        raise AcneKitError(str(exc), where="--bands") from None
    if args.max_pixels is not None and args.max_pixels <= 0:
        raise AcneKitError(f"must be a positive integer, got {args.max_pixels}", where="--max-pixels")
    if args.fail_fast and args.resume:
        raise AcneKitError("--fail-fast and --resume do not go together (--fail-fast writes all or nothing)")
    ray_opts = ray_options(args)
    all_photos = list_images(args.inputs)
    photos = apply_shard(all_photos, args.shard)
    out_root = Path(args.out)
    if out_root.exists() and not out_root.is_dir():
        raise AcneKitError("output path exists and is not a folder", path=out_root)
    targets = dict(zip(photos, _targets(photos, out_root)))
    several = len(all_photos) > 1
    csv_name = SUMMARY_CSV if args.shard is None else f"summary-{args.shard[0]}-of-{args.shard[1]}.csv"
    csv_path = out_root / csv_name
    done: dict[Path, dict] = {}  # --resume: photos whose outputs are complete
    for photo in photos:
        target = targets[photo]
        if args.resume and target.is_dir():
            d = _complete(target)
            if d is not None:
                done[photo] = d
                continue
        check_out_dir(target, force=args.force or args.resume, inputs=[photo])
    if several:
        check_output(csv_path, overwrite=args.force or args.resume, inputs=photos)
    todo = [p for p in photos if p not in done]
    # headers and data, before the model loads: every bad photo is named at once
    good, bad = precheck(todo, max_pixels=args.max_pixels, min_side=MIN_SIDE)
    if bad and (args.fail_fast or not good):  # all or nothing, or nothing to do: one error naming them all
        refuse_bad("assess", bad, len(photos))
    warn_bad("assess", bad, len(photos))
    check_model(args.model)
    job = AssessJob(model=args.model, tta=args.tta, loader=load_detector,
                    options=dict(px_per_mm=args.px_per_mm, ruler=args.ruler, score_thr=args.score_thr, bands=bands,
                                 max_pixels=args.max_pixels, face=not getattr(args, "no_face", False)),
                    mask_overlay=getattr(args, "mask_overlay", False))
    created = not out_root.exists()
    make_parent(out_root)
    for folder in clean_stale(out_root, STAGE_PATTERNS):
        print(f"acnekit assess: removed {folder}, left by an interrupted run", file=sys.stderr)
    staged = owned_stage(out_root, "acnekit-assess")
    results: dict[Path, dict] = {}
    committed: list[Path] = []
    failures: dict[Path, str] = {p: reason for p, reason in bad}
    force = args.force or args.resume
    progress = Progress(len(good), "assess", enabled=not args.no_progress)
    ok = False

    def on_outcome(o) -> None:
        if not settle(o, progress, failures, args.fail_fast):
            return
        photo = Path(o.path)
        target = targets[photo]
        folder = staged / target.name
        folder.mkdir()
        write_files(folder, o.value["files"])
        if not args.fail_fast:
            commit(folder, target, force=force)  # this photo's outputs appear now, all three together
            committed.append(target)
        results[photo] = o.value["dict"]

    try:
        with signals_as_exceptions():
            run_engine(args.engine, job, [[str(p)] for p in good], on_outcome, ray_options=ray_opts)
            progress.close()
            if args.fail_fast:
                for photo in good:
                    commit(staged / targets[photo].name, targets[photo], force=force)
            if several and (results or done):
                rows = []
                for p in photos:
                    if p in failures:
                        rows.append([str(p), "", *[""] * (len(CSV_COLUMNS) - 2), "failed", failures[p]])
                    elif p in results:
                        rows.append([*_csv_row(p, targets[p], results[p]), "ok", ""])
                    else:
                        try:  # an earlier run's JSON (--resume), perhaps from an older acnekit
                            row = _csv_row(p, targets[p], done[p])
                        except (KeyError, TypeError, IndexError):
                            row = [str(p), str(targets[p]), *[""] * (len(CSV_COLUMNS) - 2)]
                        rows.append([*row, "done", ""])
                write_files(staged, {csv_name: _summary_csv(rows)})
                os.replace(staged / csv_name, csv_path)
            ok = True
    except OSError as exc:
        raise AcneKitError(f"cannot write outputs ({exc.strerror or exc})", path=out_root) from None
    finally:
        progress.close()
        shutil.rmtree(staged, ignore_errors=True)
        if not ok and created and not committed:
            try:
                out_root.rmdir()  # only if still empty: nothing was committed
            except OSError:
                pass

    order = [p for p in photos if p in results]
    if args.json:
        items = [{"photo": str(p), "out_dir": str(targets[p]), "status": "ok", "files": list(OUTPUT_NAMES),
                  **results[p]["summary"]} for p in order]
        items += [{"photo": str(p), "status": "failed", "error": e} for p, e in failures.items()]
        print_json(items)
    else:
        for p in order:
            print(_line(p, targets[p], results[p]["summary"]))
        if done:
            print(f"{len(done)} photos already assessed (--resume): skipped")
        if several:
            print(f"{len(results)} photos assessed, {len(failures)} failed; summary: {csv_path}")
    return finish("assess", len(results), list(failures.items()), skipped=len(done))
