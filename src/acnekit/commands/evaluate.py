"""`acnekit evaluate`: score predictions against ground truth and reference grades.

* ``acnekit evaluate GT PRED``: detection, counting and grading figures of an Acne04-v2
  prediction file against an Acne04-v2 ground truth (both loaded strictly). The real
  Acne04-v2 file has a known defect (circles outside one image): repair it once with
  ``acnekit validate FILE --fix OUT.json``, or pass ``--fix-gt`` to repair the ground truth
  in memory (the number of repairs is printed on stderr).
* ``acnekit evaluate PRED... --reference-grades filename-prefix|FILE.csv
  [--reference-counts VOC_DIR]``: predicted grades against reference grades, graded counts
  against VOC box counts. PRED is one detect / Acne04-v2 file, or assessment files and
  folders of them. With a reference, a first file that is not an assessment, followed by
  more files, is the ground truth of a detection evaluation as above.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from acnekit.atomic import atomic_write_text, check_output
from acnekit.commands._common import _default
from acnekit.commands._evaluate_text import format_grades, format_result
from acnekit.dataset import load_dataset
from acnekit.grading import HAYASHI_UPPER, parse_bands
from acnekit.metrics.evaluate import evaluate
from acnekit.metrics.grade_eval import evaluate_grades
from acnekit.metrics.plots import PLOT_FILES, write_plots
from acnekit.metrics.predicted import all_predicted_grades, is_assessment, load_predictions, merged
from acnekit.metrics.references import (FILENAME_PREFIX, grades_from_filenames, load_box_counts,
                                        load_grade_csv)
from acnekit.validate import group_repairs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="score predictions against ground truth (AP, P/R/F1, counts) and reference grades",
        description="GT PRED: compare a prediction file with ground truth (both Acne04-v2 JSON; predictions carry a "
                    "per-circle score). Images are paired by file_name; predictions at another recorded image "
                    "size are rescaled; only the ground-truth images the predictions name are scored (--all-gt: "
                    "the others count as all missed). PRED... --reference-grades/--reference-counts: score the "
                    "predicted grades (an assessment's summary.grade; else the Hayashi band of the lesions flagged "
                    "'graded', or of all lesions when no lesion carries the flag) and graded counts. Prints a "
                    "table; --json writes every figure.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="GT PRED (Acne04-v2 JSON, predictions with 'score' per annotation); with --reference-*: "
                        "PRED... (a detect file, or assessment.json files / folders of them), optionally after GT")
    p.add_argument("--reference-grades", metavar="REF",
                   help=f"score grades against '{FILENAME_PREFIX}' (ACNE04 names levle<K>_*.jpg have grade K) or a "
                        "CSV file with columns file_name, grade")
    p.add_argument("--reference-counts", metavar="VOC_DIR",
                   help="score graded counts (and grades) against the boxes of a folder of Pascal VOC XML files; "
                        "every box counts as one lesion whatever its class name")
    p.add_argument("--iou", default="0.5", help="IoU threshold of a hit for --match iou (default 0.5)")
    p.add_argument("--score-thr", metavar="T", help="keep predictions with score >= T (default: the prediction "
                   "file's info.score_threshold, else the best-F1 threshold, tuned on the evaluated images)")
    p.add_argument("--match", choices=["iou", "centre"], default="iou",
                   help="hit rule: IoU >= --iou, or centre distance <= max(r_gt, r_pred)")
    p.add_argument("--px-per-mm", metavar="X", help="image scale, to report size errors in mm as well")
    p.add_argument("--bands", default=",".join(map(str, HAYASHI_UPPER)),
                   help="grade bands: inclusive upper counts of each grade but the last (default 5,20,50)")
    p.add_argument("--all-gt", action="store_true",
                   help="score every ground-truth / reference image, those without a prediction as all missed "
                        "(no lesions found) (default: only the images the predictions name; the others are left out "
                        "and counted)")
    p.add_argument("--fix-gt", action="store_true",
                   help="repair the ground truth in memory (as `validate --fix`) instead of refusing it")
    p.add_argument("--json", metavar="OUT", help="write every figure as JSON here")
    p.add_argument("--plots", metavar="DIR", help="write " + ", ".join(PLOT_FILES) + " into this folder (needs GT)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(func=run)


class _BadOption(Exception):
    pass


def _number(text: str | None, name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = True) -> float | None:
    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        raise _BadOption(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise _BadOption(f"{name} must be finite, got {text!r}")
    if low is not None and (v <= low if low_open else v < low):
        raise _BadOption(f"{name} must be {'>' if low_open else '>='} {low:g}, got {text!r}")
    if high is not None and v > high:
        raise _BadOption(f"{name} must be <= {high:g}, got {text!r}")
    return v


def _options(args: argparse.Namespace):
    iou = _number(args.iou, "--iou", low=0.0, high=1.0)
    score_thr = _number(args.score_thr, "--score-thr")
    px_per_mm = _number(args.px_per_mm, "--px-per-mm", low=0.0)
    try:
        bands = parse_bands(args.bands)
    except ValueError as exc:
        raise _BadOption(f"--bands: {exc}") from None
    refs = args.reference_grades is not None or args.reference_counts is not None
    if not refs and len(args.files) != 2:
        raise _BadOption(f"expected GT PRED (two files), or prediction files with --reference-grades / "
                         f"--reference-counts; got {len(args.files)} file(s)")
    return iou, score_thr, px_per_mm, bands


def _load_gt(path: str, fix: bool):
    """The dataset and, with ``fix``, its in-memory repairs."""
    return (load_dataset(path), None) if not fix else load_dataset(path, fix=True)


def _say_repairs(path: str, repairs) -> None:
    kinds = ", ".join(f"{k}: {v}" for k, v in group_repairs(repairs).items())
    print(f"{path}: repaired in memory: {len(repairs)} problems" + (f" ({kinds})" if kinds else ""), file=sys.stderr)


def _split_inputs(args: argparse.Namespace, refs: bool):
    """(GT dataset or None, its repairs, prediction datasets)."""
    files = args.files
    gt = repairs = None
    if not refs:
        gt, repairs = _load_gt(files[0], args.fix_gt)
        preds = [load_dataset(files[1])]
    elif len(files) >= 2 and Path(files[0]).is_file():
        first, repairs = _load_gt(files[0], args.fix_gt)
        if is_assessment(first):
            preds = [first, *load_predictions(files[1:])]
        else:
            gt, preds = first, load_predictions(files[1:])
    else:
        preds = load_predictions(files)
    if args.fix_gt and gt is None:
        raise _BadOption("--fix-gt needs a ground truth: GT PRED...")
    if repairs is not None:
        _say_repairs(files[0], repairs)
    return gt, repairs, preds


def _grade_part(args, preds, bands, score_thr) -> dict:
    grades, notes = all_predicted_grades(preds, bands, score_thr)
    n_grades = len(bands) + 1
    ref_grades = ref_counts = None
    if (ref := args.reference_grades) is not None:
        if ref == FILENAME_PREFIX:
            ref_grades = grades_from_filenames(((p.file_name, p.path, f"{p.where}.file_name") for p in grades),
                                               n_grades)
        else:
            ref_grades = load_grade_csv(ref, n_grades)
    if args.reference_counts is not None:
        ref_counts = load_box_counts(args.reference_counts)
    r = evaluate_grades(grades, grades=ref_grades, grades_name=args.reference_grades or "",
                        counts=ref_counts, counts_name=args.reference_counts or "", bands=bands, all_ref=args.all_gt)
    r["notes"] = notes
    return r


def run(args: argparse.Namespace) -> int:
    try:
        iou, score_thr, px_per_mm, bands = _options(args)
        refs = args.reference_grades is not None or args.reference_counts is not None
        inputs = list(args.files) + [x for x in (args.reference_grades, args.reference_counts)
                                     if x not in (None, FILENAME_PREFIX)]
        if args.json:
            check_output(args.json, overwrite=args.force, inputs=inputs)
        if args.plots:
            for name in PLOT_FILES:
                check_output(Path(args.plots) / name, overwrite=args.force, inputs=inputs)
        gt, repairs, preds = _split_inputs(args, refs)
        if args.plots and gt is None:
            raise _BadOption("--plots needs a ground truth: GT PRED...")
    except _BadOption as exc:
        print(f"acnekit evaluate: error: {exc}", file=sys.stderr)
        return 2
    result: dict = {}
    if gt is not None:
        result = evaluate(gt, merged(preds), iou=iou, score_thr=score_thr, match=args.match, px_per_mm=px_per_mm,
                          bands=bands, all_gt=args.all_gt)
        if repairs is not None:
            result["gt_repairs"] = group_repairs(repairs)
        for w in result["warnings"]:
            print(f"acnekit evaluate: warning: {w}", file=sys.stderr)
    if refs:
        result["pred_files"] = [ds.path for ds in preds]
        result["reference_grading"] = _grade_part(args, preds, bands, score_thr)
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1, default=_default, allow_nan=False) + "\n",
                          overwrite=args.force)
    if args.plots:
        write_plots(result, args.plots, overwrite=args.force, inputs=inputs)
    text = []
    if gt is not None:
        text.append(format_result(result))
    if refs:
        text.append(format_grades(result["reference_grading"]))
    print("\n\n".join(text))
    return 0
