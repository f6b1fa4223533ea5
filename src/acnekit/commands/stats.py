"""`acnekit stats FILE [--px-per-mm X] [--images DIR] [--json]`."""

from __future__ import annotations

import argparse

from acnekit.commands._common import print_json
from acnekit.commands._data import add_images_args, load_lenient
from acnekit.errors import DatasetError
from acnekit.grading import HAYASHI_UPPER, parse_bands
from acnekit.scores import add_score_args, apply_scores
from acnekit.stats import dataset_stats, format_stats


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats", help="counts, lesions per image, radius percentiles and grades of an Acne04-v2 file",
        description="Describe an Acne04-v2 file: images, lesions, lesions per image, radius percentiles "
                    "(px, and mm with --px-per-mm), images per filename grade prefix (levleN_), Hayashi "
                    "grade distribution of the counts and images without lesions. Of a prediction file only "
                    "the circles scoring at least its info.score_threshold count (--score-thr, "
                    "--all-scores to choose). The file is loaded "
                    "leniently: the lesion total is the file's annotation count, invalid annotations are "
                    "counted and left out of the other figures (run `acnekit validate` for details).")
    p.add_argument("file", help="Acne04-v2 JSON file")
    p.add_argument("--px-per-mm", type=float, metavar="X",
                   help="also give radii in mm (X pixels per mm; pixels of the photos on disk with --images)")
    p.add_argument("--bands", default=",".join(map(str, HAYASHI_UPPER)),
                   help="inclusive upper lesion counts of each grade but the last (default: %(default)s, Hayashi)")
    add_images_args(p, "and give radii in pixels of those photos")
    add_score_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.px_per_mm is not None and not args.px_per_mm > 0:
        raise DatasetError(f"--px-per-mm must be a positive number, got {args.px_per_mm}")
    try:
        bands = parse_bands(args.bands)
    except ValueError as exc:
        raise DatasetError(f"--bands: {exc}") from None
    loaded = load_lenient(args.file, args.images, args.missing)
    no_photo = (0, 0)
    if loaded.disk is not None:
        no_photo = (len(loaded.disk.missing), loaded.n_lesions_before_disk - loaded.dataset.n_lesions)
    ds, scores = apply_scores(loaded.dataset, args.score_thr, args.all_scores)
    s = dataset_stats(ds, px_per_mm=args.px_per_mm, bands=bands, n_annotations=loaded.n_annotations,
                      n_image_records=loaded.n_images, issues=loaded.issues, no_photo=no_photo, scores=scores)
    if loaded.disk is not None:
        s["on_disk"] = loaded.disk.to_dict()
    if args.json:
        print_json(s)
        return 0
    print(format_stats(s))
    if loaded.disk is not None:
        print("\n".join(loaded.disk.summary_lines()))
    return 0
