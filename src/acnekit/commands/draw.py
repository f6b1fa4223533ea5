"""`acnekit draw ANNOTATIONS --images DIR --out DIR`."""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

from acnekit.atomic import move_into, write_error
from acnekit.dataset import ImageRecord
from acnekit.draw import PRIMARY, SECONDARY, contact_sheet, fit, overlay
from acnekit.engines import describe
from acnekit.engines.batch import Progress, add_batch_args, finish, precheck, refuse_bad, warn_bad
from acnekit.engines.staging import clean_stale, owned_stage
from acnekit.errors import ImageError, OutputError
from acnekit.formats import FORMATS, read_dataset
from acnekit.imageio import list_images, read_image, write_image
from acnekit.scores import add_score_args, apply_scores

_HELP = """\
Draw lesion annotations on their photos, one circle outline per lesion (line width
1 + max(h, w) // 1000, like the dataset's own script). ANNOTATIONS may be in any format convert
reads; annotations that came from boxes (VOC, YOLO, plain COCO) are drawn as boxes. Photos
whose size differs from the recorded one (e.g. the 640x640 copies) get rescaled annotations.
Circles outside their image are drawn as they are (nothing is dropped). Of a prediction file
only the circles scoring at least its info.score_threshold are drawn (--score-thr T or
--all-scores to choose); the command says which threshold it used. Every photo is
checked before drawing starts, and all bad ones are named at once; the others are drawn,
each overlay appearing whole in OUT as soon as it is done (exit 1 when some failed).
--fail-fast is all or nothing: an error leaves OUT untouched. Photos and annotation files
are never overwritten."""


STAGE_PATTERNS = (".draw-*",)


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("draw", help="draw lesion circles (and a second set, a 1 mm bar) on photos",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("annotations", metavar="ANNOTATIONS", help="annotation file or folder (any format)")
    p.add_argument("--images", required=True, metavar="DIR", help="folder of photos, matched by file name")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--from", dest="fmt", choices=FORMATS, help="format of ANNOTATIONS (default: detected)")
    p.add_argument("--compare", metavar="OTHER", help="second annotation set, drawn in another colour with a legend")
    p.add_argument("--compare-from", choices=FORMATS, help="format of OTHER (default: detected)")
    p.add_argument("--label", help="legend name of ANNOTATIONS (default: its file name)")
    p.add_argument("--compare-label", help="legend name of OTHER (default: its file name)")
    p.add_argument("--scores", action="store_true", help="write each lesion's score beside it")
    p.add_argument("--px-per-mm", type=_positive, metavar="X",
                   help="pixels per mm at the recorded image size: draw a labelled 1 mm scale bar")
    p.add_argument("--grid", action="store_true", help="write one contact sheet (OUT/contact_sheet.EXT) instead")
    p.add_argument("--cell", type=int, default=320, metavar="PX", help="contact sheet cell size (default 320)")
    p.add_argument("--cols", type=int, metavar="N", help="contact sheet columns (default: square grid)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="draw only these file names")
    p.add_argument("--limit", type=int, metavar="N", help="draw at most N images (in file order)")
    p.add_argument("--format", default="jpg", choices=("jpg", "png"), help="output image format (default jpg)")
    p.add_argument("--radius-rule", default="mean", choices=("mean", "min", "max", "area"),
                   help="circle radius for box inputs (boxes are drawn as boxes anyway)")
    add_score_args(p)
    p.add_argument("--force", action="store_true", help="replace existing overlays in OUT (never an input)")
    add_batch_args(p, engines=False)
    p.set_defaults(func=run)


def _match(names: list[str], photos: list[Path]) -> dict[str, Path]:
    by_name = {p.name: p for p in photos}
    by_stem = {p.stem: p for p in photos}
    out = {}
    for n in names:
        p = by_name.get(n) or by_stem.get(Path(n).stem)
        if p is not None:
            out[n] = p
    return out


def _write(stage: Path, target: Path, img) -> None:
    """Render ``img`` into the staging folder; an error names the overlay, not the staging file."""
    try:
        write_image(stage / target.name, img)
    except OutputError as exc:
        raise OutputError(exc.detail, path=target) from None


def _place(stage: Path, out: Path, targets: list[Path]) -> None:
    """Move rendered overlays from ``stage`` into ``out`` (`acnekit.atomic.move_into`: all or none;
    a write error is one line); the copies of replaced overlays are dropped once they are in."""
    move_into(stage, out, [t.name for t in targets])
    shutil.rmtree(stage / ".replaced", ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    photos = list_images([args.images])
    ds, _ = read_dataset(args.annotations, args.fmt, images=args.images, radius_rule=args.radius_rule,
                         keep_outside=True)
    ds, kept = apply_scores(ds, args.score_thr, args.all_scores)
    notes = [kept.describe(Path(args.annotations).name)]
    other = None
    if args.compare:
        other, _ = read_dataset(args.compare, args.compare_from, images=args.images,
                                radius_rule=args.radius_rule, keep_outside=True)
        other, kept = apply_scores(other, args.score_thr, args.all_scores)
        notes.append(kept.describe(Path(args.compare).name))
    records = ds.images
    if args.only:
        known = {r.file_name for r in records}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            raise ImageError(f"--only names not in the annotations: {', '.join(unknown[:5])}", path=args.annotations)
        wanted = set(args.only)
        records = [r for r in records if r.file_name in wanted]
    found = _match([r.file_name for r in records], photos)
    missing = [r.file_name for r in records if r.file_name not in found]
    records = [r for r in records if r.file_name in found]
    if args.limit is not None:
        records = records[: max(0, args.limit)]
    if not records:
        raise ImageError(f"none of the {len(ds)} annotated images has a photo in this folder "
                         f"(e.g. {missing[0] if missing else '-'})", path=args.images)
    by_stem = {Path(r.file_name).stem: r for r in other.images} if other is not None else {}
    labels = (args.label or Path(args.annotations).name, args.compare_label or Path(args.compare or "").name)
    out = Path(args.out)
    inputs = {p.resolve() for p in photos} | {Path(x).resolve() for x in (args.annotations, args.compare) if x}
    names = ["contact_sheet"] if args.grid else [Path(r.file_name).stem for r in records]
    targets = [out / f"{n}.{args.format}" for n in names]
    if len(set(targets)) != len(targets):
        raise OutputError("two images would give the same overlay name (same stem)", path=out)
    if args.fail_fast and args.resume:
        raise OutputError("--fail-fast and --resume do not go together (--fail-fast writes all or nothing)")
    skipped = 0
    if args.resume and not args.grid:  # an overlay is one file, renamed into place whole: existing = complete
        keep = [i for i, t in enumerate(targets) if not t.is_file()]
        skipped = len(targets) - len(keep)
        records, targets = [records[i] for i in keep], [targets[i] for i in keep]
    for t in targets:
        if t.resolve() in inputs:
            raise OutputError("refusing to overwrite an input file; choose another --out", path=t)
        if t.exists() and not args.force:
            raise OutputError("output exists; pass --force to replace it (or --resume to skip it)", path=t)
    if out.exists() and not out.is_dir():
        raise OutputError("--out must be a folder", path=out)
    if not out.parent.is_dir():
        raise OutputError("output folder's parent does not exist", path=out.parent)
    # every photo checked before any drawing: all bad ones named at once
    good_photos, bad = precheck([found[r.file_name] for r in records])
    if bad and (args.fail_fast or not good_photos):  # all or nothing, or nothing to do: one error naming them all
        refuse_bad("draw", bad, len(records) + skipped)
    warn_bad("draw", bad, len(records) + skipped)
    failures: dict[Path, str] = dict(bad)
    todo = [(r, t) for r, t in zip(records, targets if not args.grid else [targets[0]] * len(records))
            if found[r.file_name] not in failures]
    created = not out.exists()
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise write_error(exc, out, "cannot create the output folder") from None
    for folder in clean_stale(out, STAGE_PATTERNS):
        print(f"acnekit draw: removed {folder}, left by an interrupted run", file=sys.stderr)
    tmp = owned_stage(out, prefix=".draw-", suffix="")
    written: list[Path] = []
    progress = Progress(len(todo), "draw", enabled=not args.no_progress)
    try:
        tiles = []
        for rec, target in todo:
            photo = found[rec.file_name]
            try:
                rgb = read_image(photo)
                if args.grid:
                    rgb = fit(rgb, args.cell)
                cmp_rec = None
                if other is not None:
                    cmp_rec = by_stem.get(Path(rec.file_name).stem) or ImageRecord(-1, rec.file_name, rec.width,
                                                                                   rec.height)
                try:
                    img = overlay(rgb, rec, compare=cmp_rec, labels=labels, scores=args.scores,
                                  px_per_mm=args.px_per_mm, colors=(PRIMARY, SECONDARY))
                except ValueError as exc:
                    raise ImageError(str(exc), path=photo) from None
                if args.grid:
                    tiles.append((img, rec.file_name))
                else:
                    _write(tmp, target, img)
                    if not args.fail_fast:
                        _place(tmp, out, [target])  # this overlay appears now, whole
                        written.append(target)
            except OutputError:
                raise
            except Exception as exc:  # a bad photo: listed, the others drawn (signals pass through)
                if args.fail_fast:
                    raise
                failures[photo] = describe(exc, str(photo))
                progress.update(False)
                continue
            progress.update(True)
        progress.close()
        if args.grid:
            if not tiles:
                raise ImageError("no photo could be drawn; nothing written", path=args.images)
            _write(tmp, targets[0], contact_sheet(tiles, args.cols, args.cell))
            _place(tmp, out, [targets[0]])
            written.append(targets[0])
        elif args.fail_fast:
            _place(tmp, out, [t for _, t in todo])  # all together, or none (the replaced ones put back)
            written.extend(t for _, t in todo)
    except OSError as exc:
        raise write_error(exc, out, "cannot write overlays") from None
    finally:
        progress.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not written:
            try:
                out.rmdir()  # only the folder this run made, and only while empty
            except OSError:
                pass
    n_ok = len(todo) - (len(failures) - len(bad))
    if n_ok == 0 and not skipped:
        finish("draw", 0, list(failures.items()))
        raise ImageError("no photo could be drawn; nothing written", path=args.images)
    note = f"; {len(missing)} annotated images have no photo in {args.images}" if missing else ""
    if skipped:
        note += f"; {skipped} overlays already there (--resume)"
    what = f"a contact sheet of {len(tiles)} images" if args.grid else f"{len(written)} overlays"
    print(f"wrote {what} to {out}{note}")
    for line in filter(None, notes):
        print(line)
    return finish("draw", n_ok, list(failures.items()), skipped=skipped)
