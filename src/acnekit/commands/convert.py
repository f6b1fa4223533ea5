"""`acnekit convert IN --to FORMAT --out PATH`."""

from __future__ import annotations

import argparse

from acnekit.commands._common import print_json
from acnekit.errors import DatasetError
from acnekit.formats import FORMATS, read_dataset, write_dataset
from acnekit.validate import group_repairs

_HELP = """\
Convert lesion annotations between Acne04-v2 JSON, COCO, YOLO, Pascal VOC and CSV. The input
format is detected from content unless --from is given. Acne04-v2 -> COCO -> Acne04-v2 is
lossless (the exact circle is kept in each COCO annotation as "circle": [x, y, r]). Box formats
(plain COCO, YOLO, VOC) give circles by --radius-rule and keep each box in the annotation's
"box" field. YOLO input needs the image sizes: --images DIR (the photos) or --reference FILE.

Invalid input is refused with the first problem named. Circles whose centre lies outside their
image (the published Acne04-v2 file has 49 in levle2_130.jpg) are refused too, unless
--keep-outside (keep them unchanged, e.g. to export the published file as it is) or --fix
(repair like `acnekit validate --fix`: drop them and the other repairable problems, listing each).
Outputs are written atomically (folders via a temporary folder) and never over an input."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert annotations between Acne04-v2, COCO, YOLO, VOC and CSV",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="annotation file or folder")
    p.add_argument("--to", required=True, choices=FORMATS, help="output format")
    p.add_argument("--out", required=True, metavar="PATH", help="output file (JSON, CSV) or folder (YOLO, VOC)")
    p.add_argument("--from", dest="fmt", choices=FORMATS, help="input format (default: detected)")
    p.add_argument("--images", metavar="DIR", help="photos, for the image sizes of YOLO input")
    p.add_argument("--reference", metavar="FILE", help="Acne04-v2/COCO/CSV file giving image names and sizes "
                                                       "for YOLO input")
    p.add_argument("--radius-rule", default="mean", choices=("mean", "min", "max", "area"),
                   help="circle radius from a box: mean half-side (default), min (inscribed), max, "
                        "area (disc of the box's area)")
    lax = p.add_mutually_exclusive_group()
    lax.add_argument("--keep-outside", action="store_true",
                     help="keep circles that lie outside their image unchanged")
    lax.add_argument("--fix", action="store_true", help="repair the input (drop invalid circles), listing repairs")
    p.add_argument("--force", action="store_true", help="replace PATH if it exists (never an input)")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.images and args.reference:
        raise DatasetError("give --images or --reference, not both")
    try:
        ds, issues = read_dataset(args.input, args.fmt, images=args.images, reference=args.reference,
                                  radius_rule=args.radius_rule, fix=args.fix, keep_outside=args.keep_outside)
    except DatasetError as exc:
        if "outside" in exc.detail and not (args.fix or args.keep_outside):
            raise DatasetError(exc.detail.split("; run `acnekit validate")[0].split("; pass --keep")[0]
                               + "; convert with --keep-outside to keep such circles or --fix to drop them",
                               path=exc.path, where=exc.where) from None
        raise
    out = write_dataset(ds, args.to, args.out, overwrite=args.force,
                        inputs=[args.input, args.images, args.reference])
    outside = sum(int((~im.circles.inside(im.width, im.height)).sum()) for im in ds.images)
    if args.json:
        print_json({"input": args.input, "to": args.to, "out": str(out), "images": len(ds),
                    "lesions": ds.n_lesions, "outside_kept": outside,
                    "repairs": [{"code": i.code, "where": i.where, "value": i.value, "repair": i.repair}
                                for i in issues]})
        return 0
    for i in issues:
        print(i.describe())
    if issues:
        kinds = ", ".join(f"{k}: {v}" for k, v in group_repairs(issues).items())
        print(f"{len(issues)} repairs ({kinds})")
    if outside:
        print(f"kept {outside} circles whose centre lies outside their image (--keep-outside)")
    print(f"wrote {args.to} {out}: {len(ds)} images, {ds.n_lesions} lesions")
    return 0
