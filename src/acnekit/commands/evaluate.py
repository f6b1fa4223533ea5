"""`acnekit evaluate GT PRED`: detection, counting and grading figures of a prediction file.

GT and PRED are Acne04-v2 files (predictions carry a per-annotation ``score``), both loaded
strictly. The real Acne04-v2 file has a known defect (circles outside one image): repair
it once with ``acnekit validate FILE --fix OUT.json``, or pass ``--fix-gt`` to repair the
ground truth in memory (the number of repairs is printed on stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from acnekit.atomic import atomic_write_text, check_output
from acnekit.commands._common import _default, table
from acnekit.dataset import load_dataset
from acnekit.grading import HAYASHI_UPPER, parse_bands
from acnekit.metrics.evaluate import evaluate
from acnekit.metrics.plots import PLOT_FILES, write_plots
from acnekit.validate import group_repairs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="score predictions against ground truth (AP, P/R/F1, count and grade errors)",
        description="Compare a prediction file with ground truth (both Acne04-v2 JSON; predictions carry a "
                    "per-circle score). Images are paired by file_name; predictions at another recorded image "
                    "size are rescaled; only the ground-truth images the predictions name are scored (--all-gt: "
                    "the others count as all missed). Prints a table; "
                    "--json writes every figure.")
    p.add_argument("gt", help="ground-truth Acne04-v2 JSON")
    p.add_argument("pred", help="prediction Acne04-v2 JSON (with 'score' per annotation)")
    p.add_argument("--iou", default="0.5", help="IoU threshold of a hit for --match iou (default 0.5)")
    p.add_argument("--score-thr", metavar="T", help="keep predictions with score >= T (default: the prediction "
                   "file's info.score_threshold, else the best-F1 threshold)")
    p.add_argument("--match", choices=["iou", "centre"], default="iou",
                   help="hit rule: IoU >= --iou, or centre distance <= max(r_gt, r_pred)")
    p.add_argument("--px-per-mm", metavar="X", help="image scale, to report size errors in mm as well")
    p.add_argument("--bands", default=",".join(map(str, HAYASHI_UPPER)),
                   help="grade bands: inclusive upper counts of each grade but the last (default 5,20,50)")
    p.add_argument("--all-gt", action="store_true",
                   help="score every ground-truth image, those without a prediction entry as all missed (default: "
                        "only the images the predictions name; the others are left out and counted)")
    p.add_argument("--fix-gt", action="store_true",
                   help="repair the ground truth in memory (as `validate --fix`) instead of refusing it")
    p.add_argument("--json", metavar="OUT", help="write every figure as JSON here")
    p.add_argument("--plots", metavar="DIR", help="write " + ", ".join(PLOT_FILES) + " into this folder")
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


def run(args: argparse.Namespace) -> int:
    try:
        iou = _number(args.iou, "--iou", low=0.0, high=1.0)
        score_thr = _number(args.score_thr, "--score-thr")
        px_per_mm = _number(args.px_per_mm, "--px-per-mm", low=0.0)
        try:
            bands = parse_bands(args.bands)
        except ValueError as exc:
            raise _BadOption(f"--bands: {exc}") from None
    except _BadOption as exc:
        print(f"acnekit evaluate: error: {exc}", file=sys.stderr)
        return 2
    inputs = [args.gt, args.pred]
    if args.json:
        check_output(args.json, overwrite=args.force, inputs=inputs)
    if args.plots:
        for name in PLOT_FILES:
            check_output(Path(args.plots) / name, overwrite=args.force, inputs=inputs)
    if args.fix_gt:
        gt, repairs = load_dataset(args.gt, fix=True)
        kinds = ", ".join(f"{k}: {v}" for k, v in group_repairs(repairs).items())
        print(f"{args.gt}: repaired in memory: {len(repairs)} problems" + (f" ({kinds})" if kinds else ""),
              file=sys.stderr)
    else:
        gt = load_dataset(args.gt)
    pred = load_dataset(args.pred)
    result = evaluate(gt, pred, iou=iou, score_thr=score_thr, match=args.match, px_per_mm=px_per_mm, bands=bands,
                      all_gt=args.all_gt)
    for w in result["warnings"]:
        print(f"acnekit evaluate: warning: {w}", file=sys.stderr)
    if args.fix_gt:
        result["gt_repairs"] = group_repairs(repairs)
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1, default=_default, allow_nan=False) + "\n",
                          overwrite=args.force)
    if args.plots:
        write_plots(result, args.plots, overwrite=args.force, inputs=inputs)
    print(format_result(result))
    return 0


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def format_result(r: dict) -> str:
    """The human-readable summary printed by `acnekit evaluate`."""
    s, im, d, c, g = r["settings"], r["images"], r["detection"], r["counting"], r["grading"]
    rule = f"IoU >= {s['iou']:g}" if s["match"] == "iou" else "centre distance <= max(r_gt, r_pred)"
    out = [f"ground truth: {r['gt']}  ({im['gt']} images; {im['evaluated']} evaluated, {d['ground_truth']} lesions)",
           f"predictions:  {r['pred']}  ({im['with_predictions']} images, {d['predictions']} circles)"]
    if im.get("left_out"):
        out.append(f"ground-truth images left out (no prediction entry): {im['left_out']} "
                   f"(--all-gt scores them as all missed)")
    if im["missing_predictions"]:
        names = im["missing_predictions"]
        shown = ", ".join(names[:5]) + (f", ... ({len(names) - 5} more)" if len(names) > 5 else "")
        out.append(f"images with no prediction entry (all lesions missed): {len(names)}: {shown}")
    if im["rescaled_predictions"]:
        out.append(f"predictions rescaled to the ground truth's image size: {len(im['rescaled_predictions'])} images")
    out += [f"note: {n}" for n in r["notes"]]
    out += [f"WARNING: {w}" for w in r.get("warnings", [])]
    at, best, sz = d["at_threshold"], d["best_f1"], d["sizes"]
    rows = [
        ["AP50 (COCO 101-point)", _f(d["ap50"])],
        ["AP75", _f(d["ap75"])],
        ["AP@[0.50:0.95]", _f(d["ap50_95"])],
    ]
    if s["match"] == "centre":
        rows.append(["AP (centre rule)", _f(d["ap"])])
    rows += [
        [f"score threshold ({s['score_threshold_source']})", f"{s['score_threshold']:.4g}"],
        ["TP / FP / FN", f"{at['tp']} / {at['fp']} / {at['fn']}"],
        ["precision", _f(at["precision"])],
        ["recall (sensitivity)", _f(at["recall"])],
        ["F1", _f(at["f1"])],
        ["best F1 (at threshold)", "n/a" if best is None else f"{best['f1']:.3f} (score >= {best['threshold']:.4g})"],
        ["radius MAE, px", _f(sz["radius_mae_px"], 2) + ("" if "radius_mae_mm" not in sz
                                                          else f"  ({_f(sz['radius_mae_mm'], 3)} mm)")],
        ["radius bias (pred - gt), px", _f(sz["radius_bias_px"], 2)],
        ["centre distance, px", _f(sz["centre_distance_mean_px"], 2)],
    ]
    out += ["", f"Detection (hit: {rule})", table(rows)]
    out += ["", "Counting (per image, predicted - true)", table([
        ["MAE", _f(c["mae"], 2)], ["MSE", _f(c["mse"], 2)], ["RMSE", _f(c["rmse"], 2)],
        ["mean error (bias)", _f(c["mean_error"], 2)]])]
    out += ["", f"Grading (Hayashi bands {g['labels']})", table([
        ["accuracy", _f(g["accuracy"])],
        ["precision (macro, LDL)", _f(g["precision_macro"])],
        ["sensitivity (macro)", _f(g["sensitivity_macro"])],
        ["specificity (macro)", _f(g["specificity_macro"])],
        ["Youden index", _f(g["youden_index"])],
        ["Cohen's kappa (unweighted / linear / quadratic)",
         f"{_f(g['kappa'])} / {_f(g['kappa_linear'])} / {_f(g['kappa_quadratic'])}"]])]
    conf = g["confusion_matrix"]
    out += ["", "Confusion matrix (rows: true grade, columns: predicted)",
            table([[lab] + row for lab, row in zip(g["labels"], conf)], header=["true \\ pred"] + g["labels"])]
    out += ["", table([[p["grade"], p["counts"], p["support"], _f(p["precision"]), _f(p["sensitivity"]),
                        _f(p["specificity"]), _f(p["youden_index"])] for p in g["per_grade"]],
                      header=["grade", "counts", "images", "precision", "sensitivity", "specificity", "Youden"])]
    if g["zero_division"]:
        out.append("counted as 0 (division by zero): " + ", ".join(g["zero_division"]))
    return "\n".join(out)
