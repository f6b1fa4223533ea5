"""`acnekit validate FILE [--fix OUT.json] [--images DIR]`."""

from __future__ import annotations

import argparse
from acnekit.atomic import check_output
from acnekit.commands._common import print_json
from acnekit.commands._data import add_images_args
from acnekit.ondisk import match_images
from acnekit.dataset import save_dataset
from acnekit.validate import group_repairs, load_validated


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check an Acne04-v2 file; --fix writes a repaired copy",
                       description="Validate an Acne04-v2 annotation file. Strict by default: exits 2 naming "
                                   "the first class of problem. With --fix OUT.json, repairs what it can "
                                   "(drops or renumbers), writes a new file and lists every repair.")
    p.add_argument("file", help="Acne04-v2 JSON file")
    p.add_argument("--fix", metavar="OUT.json", help="write a repaired copy here and report each repair")
    p.add_argument("--force", action="store_true", help="overwrite OUT.json if it exists")
    add_images_args(p, "and report how circles rescale to those photos")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.fix:
        ds, _ = load_validated(args.file, fix=False)
        disk = match_images(ds, args.images, missing=args.missing) if args.images else None
        if args.json:
            out = {"file": args.file, "valid": True, "images": len(ds), "lesions": ds.n_lesions}
            print_json({**out, "on_disk": disk.to_dict()} if disk else out)
        else:
            print(f"{args.file}: valid: {len(ds)} images, {ds.n_lesions} lesions")
            if disk:
                print("\n".join(disk.summary_lines()))
        return 0
    check_output(args.fix, overwrite=args.force, inputs=[args.file])
    ds, issues = load_validated(args.file, fix=True)
    # Photos are checked before anything is written: a missing photo fails the command.
    disk = match_images(ds, args.images, missing=args.missing) if args.images else None
    save_dataset(ds, args.fix, overwrite=args.force)
    if args.json:
        print_json({
            "file": args.file, "out": args.fix, "images": len(ds), "lesions": ds.n_lesions,
            **({"on_disk": disk.to_dict()} if disk else {}),
            "repairs": [{"code": i.code, "where": i.where, "value": i.value, "message": i.message,
                         "repair": i.repair, "image": i.image} for i in issues],
            "repairs_by_kind": group_repairs(issues),
        })
        return 0
    for i in issues:
        print(i.describe())
    kinds = ", ".join(f"{k}: {v}" for k, v in group_repairs(issues).items()) or "none needed"
    print(f"{len(issues)} repairs ({kinds}); wrote {args.fix}: {len(ds)} images, {ds.n_lesions} lesions")
    if disk:
        print("\n".join(disk.summary_lines()))
    return 0
