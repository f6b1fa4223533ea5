"""`acnekit detect PHOTOS_OR_DIRS... --out PRED.json [--model PATH] [--score-thr T]`.

One JSON for the batch. Keep going (the default) means: every photo is checked before the
model loads, and the JSON lists the photos that worked, with the others (and why) in
``info.failures``; exit 1 when some failed, 2 when none worked (and nothing is written).
The JSON is also saved every minute and when the run is interrupted, marked
``info.incomplete``; ``--resume`` then detects only the photos it lacks.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from acnekit.commands._common import add_tta_arg
from acnekit.engines.batch import add_batch_args

CHECKPOINT_S = 60.0


def load_detector(path: str | None):
    """The detector (a module-level function so tests can substitute a fake one)."""
    from acnekit.engines.jobs import load_shipped

    return load_shipped(path)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect lesions on photos; write Acne04-v2 predictions",
                       description="Detect lesion circles on photos (files or folders) with the shipped model (or "
                                   "--model) and write Acne04-v2 JSON in each photo's own pixels, with a score per "
                                   "circle. By default every circle scoring at least the model's floor is kept (so "
                                   "AP can be computed) and info.score_threshold records the model's operating "
                                   "point for counting; --score-thr T keeps circles >= T and records T. Photos that "
                                   "fail are listed in info.failures (exit 1); --fail-fast writes nothing then.")
    p.add_argument("photos", nargs="+", help="photos or folders of photos")
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("--model", help="weights (.safetensors, with its .json card) or a run folder; default: shipped")
    p.add_argument("--score-thr", type=float, help="keep circles scoring at least this")
    p.add_argument("--batch", type=int, default=4, help="photos per network pass (default 4)")
    add_tta_arg(p)
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    add_batch_args(p)
    p.set_defaults(func=run)


def _record(k: int, name: str, v: dict):
    from acnekit.circles import Circles
    from acnekit.dataset import ImageRecord

    c = Circles(v["xy"], v["radius"], v["score"], ["acne"] * len(v["radius"]))
    ann = None
    if "graded" in v and len(c):
        ann = [{"graded": bool(g), "graded_score": round(float(s), 4)} for g, s in zip(v["graded"], v["graded_score"])]
    extra = {"warnings": list(v["warnings"])} if v.get("warnings") else {}  # e.g. a grayscale photo
    return ImageRecord(k, name, v["width"], v["height"], c, ann_extra=ann, extra=extra)


def run(args: argparse.Namespace) -> int:
    from acnekit.atomic import check_output
    from acnekit.dataset import AcneDataset, ImageRecord, load_dataset, save_dataset
    from acnekit.engines import run_engine
    from acnekit.engines.batch import Progress, apply_shard, finish, precheck, ray_options, refuse_bad, settle, warn_bad
    from acnekit.engines.jobs import DetectJob, check_model
    from acnekit.engines.staging import Terminated
    from acnekit.errors import AcneKitError, AcneKitWarning, ImageError
    from acnekit.imageio import list_images

    if args.score_thr is not None and not (0.0 <= args.score_thr <= 1.0):
        raise AcneKitError(f"--score-thr must be in [0, 1], got {args.score_thr}")
    if args.batch < 1:
        raise AcneKitError(f"must be at least 1, got {args.batch}", where="--batch")
    if args.fail_fast and args.resume:
        raise AcneKitError("--fail-fast and --resume do not go together (--fail-fast writes all or nothing)")
    ray_opts = ray_options(args)
    photos = apply_shard(list_images(args.photos), args.shard)
    seen: dict[str, Path] = {}
    for p in photos:
        if p.name in seen:
            raise ImageError(f"two photos share the file name {p.name!r} ({seen[p.name]} and {p}); "
                             "Acne04-v2 names images by file name", path=p)
        seen[p.name] = p
    out = Path(args.out)
    previous: dict[str, ImageRecord] = {}
    prev_info: dict = {}
    if args.resume and out.exists():
        ds0 = load_dataset(out)
        prev_info = ds0.info
        wanted = {p.name for p in photos}
        previous = {r.file_name: r for r in ds0.images if r.file_name in wanted}
    else:
        check_output(out, overwrite=args.force, inputs=photos)
    todo = [p for p in photos if p.name not in previous]
    good, bad = precheck(todo)
    if bad and (args.fail_fast or not good):  # all or nothing, or nothing to do: one error naming them all
        refuse_bad("detect", bad, len(photos))
    warn_bad("detect", bad, len(photos))
    check_model(args.model)
    job = DetectJob(model=args.model, tta=args.tta, score_thr=args.score_thr, loader=load_detector)
    results: dict[Path, dict] = {}
    failures: dict[Path, str] = dict(bad)
    info: dict = {}
    progress = Progress(len(good), "detect", enabled=not args.no_progress)
    last_save = [time.monotonic()]

    def dataset(incomplete: str | None = None) -> AcneDataset:
        images = []
        for p in photos:
            if p.name in previous:
                r = previous[p.name]
                images.append(ImageRecord(len(images), r.file_name, r.width, r.height, r.circles,
                                          ann_extra=r.ann_extra, extra=r.extra))
            elif p in results:
                images.append(_record(len(images), p.name, results[p]))
        meta = {"description": "acnekit predictions", **(info or {k: prev_info[k] for k in (
            "model", "working_scale", "score_floor", "score_threshold", "graded_model", "graded_threshold")
            if k in prev_info})}
        if failures:
            meta["failures"] = [{"file_name": p.name, "path": str(p), "error": e} for p, e in failures.items()]
        if incomplete:
            meta["incomplete"] = incomplete
        return AcneDataset(images, info=meta)

    def on_outcome(o) -> None:
        if not settle(o, progress, failures, args.fail_fast):
            return
        photo = Path(o.path)
        if not info:
            info.update(o.value["info"])
            if previous and any(prev_info.get(k) != info[k] for k in ("model", "score_floor")):
                raise AcneKitError(f"--resume: {out} was made with model {prev_info.get('model')!r}, score floor "
                                   f"{prev_info.get('score_floor')}; this run has {info['model']!r}, "
                                   f"{info['score_floor']}: use the same --model/--score-thr or --force")
        results[photo] = o.value
        for note in o.value.get("warnings", ()):  # one line per photo without full colour (see acnekit.cli)
            warnings.warn(AcneKitWarning(f"{photo}: {note}"), stacklevel=1)
        if not args.fail_fast and time.monotonic() - last_save[0] > CHECKPOINT_S:
            save_dataset(dataset("in progress: run again with --resume to finish"), out, overwrite=True)
            last_save[0] = time.monotonic()

    chunks = [[str(p) for p in good[i : i + args.batch]] for i in range(0, len(good), args.batch)]
    try:
        run_engine(args.engine, job, chunks, on_outcome, ray_options=ray_opts)
    except (KeyboardInterrupt, Terminated):
        if not args.fail_fast and (results or previous):
            save_dataset(dataset("interrupted: run again with --resume to finish"), out, overwrite=True)
        raise
    finally:
        progress.close()
    if not results and not previous:
        finish("detect", 0, list(failures.items()))
        raise AcneKitError("no photo could be detected on; nothing written")
    ds = dataset()
    save_dataset(ds, out, overwrite=True)
    print(f"{len(ds)} photos, {ds.n_lesions} circles -> {out} "
          f"(operating threshold {ds.info['score_threshold']:.3f})", file=sys.stderr)
    return finish("detect", len(results), list(failures.items()), skipped=len(previous))
