"""`acnekit detect PHOTOS_OR_DIRS... --out PRED.json [--model PATH] [--score-thr T]`."""

from __future__ import annotations

import argparse
import sys

from acnekit.commands._common import add_tta_arg, apply_tta


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect lesions on photos; write Acne04-v2 predictions",
                       description="Detect lesion circles on photos (files or folders) with the shipped model (or "
                                   "--model) and write Acne04-v2 JSON in each photo's own pixels, with a score per "
                                   "circle. By default every circle scoring at least the model's floor is kept (so "
                                   "AP can be computed) and info.score_threshold records the model's operating "
                                   "point for counting; --score-thr T keeps circles >= T and records T.")
    p.add_argument("photos", nargs="+", help="photos or folders of photos")
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("--model", help="weights (.safetensors, with its .json card) or a run folder; default: shipped")
    p.add_argument("--score-thr", type=float, help="keep circles scoring at least this")
    p.add_argument("--batch", type=int, default=4, help="photos per network pass (default 4)")
    add_tta_arg(p)
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acnekit.atomic import check_output
    from acnekit.dataset import save_dataset
    from acnekit.detector.infer import Detector
    from acnekit.detector.predict import predict_dataset
    from acnekit.errors import AcneKitError
    from acnekit.imageio import list_images

    if args.score_thr is not None and not (0.0 <= args.score_thr <= 1.0):
        raise AcneKitError(f"--score-thr must be in [0, 1], got {args.score_thr}")
    if args.batch < 1:
        raise AcneKitError(f"must be at least 1, got {args.batch}", where="--batch")
    photos = list_images(args.photos)
    check_output(args.out, overwrite=args.force, inputs=photos)
    detector = Detector.load(args.model)
    apply_tta(detector, args.tta)
    ds = predict_dataset(detector, photos, score_thr=args.score_thr, progress=not args.no_progress,
                         batch=args.batch)
    save_dataset(ds, args.out, overwrite=args.force)
    print(f"{len(ds)} photos, {ds.n_lesions} circles -> {args.out} "
          f"(operating threshold {ds.info['score_threshold']:.3f})", file=sys.stderr)
    return 0
