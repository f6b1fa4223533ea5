"""`acnekit grade calibrate --annotations A.json --reference {filename-prefix|CSV} --out CAL.json`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from acnekit.atomic import atomic_write_text, check_output
from acnekit.calibrate import calibrate_dataset, reference_grades
from acnekit.commands._common import print_json
from acnekit.dataset import load_dataset


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grade", help="grading tools: calibrate a grade from lesion features",
                       description="Grading tools.")
    gsub = p.add_subparsers(dest="grade_command", metavar="SUBCOMMAND")
    c = gsub.add_parser(
        "calibrate", help="learn a monotone lesion-features -> grade map, report cross-validated accuracy",
        description="Learn grade = #thresholds <= w . (log1p count, log1p area, log1p large lesions), "
                    "w >= 0, from an Acne04-v2 file's circles (areas at the 640x640-area working scale; "
                    "never the photo size) against reference grades; report k-fold cross-validated "
                    "accuracy and Cohen's kappa with the count-only thresholds baseline; save the "
                    "calibration JSON that `acnekit assess --calibration` uses.")
    c.add_argument("--annotations", required=True, metavar="A.json", help="Acne04-v2 file (repaired on load)")
    c.add_argument("--reference", required=True, metavar="filename-prefix|CSV",
                   help="'filename-prefix' (ACNE04's levleN_ names) or a CSV with columns file_name,grade")
    c.add_argument("--out", required=True, metavar="CAL.json", help="calibration file to write")
    c.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    c.add_argument("--seed", type=int, default=0, help="fold assignment seed (default 0)")
    c.add_argument("--name", help="name stored in the calibration (default: the annotation file's name)")
    c.add_argument("--force", action="store_true", help="overwrite CAL.json if it exists")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=run_calibrate)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_calibrate(args: argparse.Namespace) -> int:
    from acnekit.errors import AcneKitError

    if args.folds < 2:
        raise AcneKitError(f"must be >= 2, got {args.folds}", where="--folds")
    check_output(args.out, overwrite=args.force, inputs=[args.annotations, args.reference])
    ds, repairs = load_dataset(args.annotations, fix=True)
    y = reference_grades(ds, args.reference)
    cal, report = calibrate_dataset(ds, y, folds=args.folds, seed=args.seed)
    cal.meta = {
        "name": args.name or Path(args.annotations).stem,
        "reference": args.reference if args.reference == "filename-prefix" else Path(args.reference).name,
        "annotations": Path(args.annotations).name,
        "images": len(ds), "lesions": ds.n_lesions, "repairs_on_load": len(repairs),
        "cv": {k: report[k] for k in ("folds", "seed")} | {
            "accuracy": report["calibrated"]["accuracy"], "kappa": report["calibrated"]["kappa"],
            "kappa_quadratic": report["calibrated"]["kappa_quadratic"],
            "count_only_accuracy": report["count_only_thresholds"]["accuracy"],
            "count_only_kappa": report["count_only_thresholds"]["kappa"]},
        "in_sample_accuracy": report["in_sample_accuracy"],
        "grade_counts": report["grade_counts"],
    }
    atomic_write_text(args.out, json.dumps(cal.to_dict(), indent=2) + "\n", overwrite=args.force)
    if args.json:
        print_json({"out": args.out, "calibration": cal.to_dict(), "report": report})
        return 0
    cv, base = report["calibrated"], report["count_only_thresholds"]
    print(f"{args.annotations}: {len(ds)} images, {ds.n_lesions} lesions ({len(repairs)} repairs on load), "
          f"grades {report['grade_counts']}")
    print(f"{args.folds}-fold CV (seed {args.seed}): calibrated accuracy {cv['accuracy']:.3f} "
          f"(folds {', '.join(f'{a:.3f}' for a in cv['accuracy_per_fold'])}), kappa {cv['kappa']:.3f}, "
          f"quadratic kappa {cv['kappa_quadratic']:.3f}")
    print(f"  count-only thresholds: accuracy {base['accuracy']:.3f}, kappa {base['kappa']:.3f}, "
          f"quadratic kappa {base['kappa_quadratic']:.3f}")
    print(f"in-sample accuracy {report['in_sample_accuracy']:.3f}; weights {[round(float(w), 4) for w in cal.weights]}, "
          f"thresholds {[round(float(t), 4) for t in cal.thresholds]}")
    print(f"wrote {args.out}")
    return 0
