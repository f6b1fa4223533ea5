"""`acnekit split FILE --out DIR [--folds K | --val-fraction F] [--stratify grade] [--seed S]`."""

from __future__ import annotations

import argparse

from acnekit.commands._common import print_json, table
from acnekit.commands._data import add_images_args
from acnekit.ondisk import match_images
from acnekit.errors import DatasetError
from acnekit.photohash import HASH_BITS, byte_groups, file_sha256, groups_from_pairs, near_pairs, phash
from acnekit.split import STRATIFY, make_split, split_files, write_files
from acnekit.validate import load_validated


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "split", help="reproducible stratified train/val split or k folds, written as Acne04-v2 files",
        description="Split an Acne04-v2 file into train/val (--val-fraction) or k folds (--folds), "
                    "stratified by the filename grade prefix (default), the Hayashi grade of the count, "
                    "or not at all. The same seed and file give the same split. Writes into --out: "
                    "PART.json (Acne04-v2, recorded coordinates) and PART.txt (file names) for each part "
                    "(train/val, or foldK_train/foldK_val), and split.json describing the split. With "
                    "--images, byte-identical photos always land in the same part (and near duplicates with "
                    "--near-bits).")
    p.add_argument("file", help="Acne04-v2 JSON file (must validate; see --fix)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if absent)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--folds", type=int, metavar="K", help="k-fold cross-validation with K folds")
    how.add_argument("--val-fraction", type=float, metavar="F", help="put about this fraction in val")
    p.add_argument("--stratify", choices=STRATIFY, default="grade",
                   help="grade: filename prefix levleN_ (default); hayashi: grade of the lesion count; none")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--fix", action="store_true",
                   help="repair the input as `validate --fix` does (drop invalid circles) instead of failing")
    add_images_args(p, "and keep byte-identical photos in the same part")
    p.add_argument("--near-bits", type=int, metavar="B",
                   help=f"with --images: also keep near-duplicate photos together (pHash distance at most B of "
                        f"{HASH_BITS} bits; `acnekit audit` uses 20)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.near_bits is not None and not (args.images and 0 <= args.near_bits <= HASH_BITS):
        raise DatasetError(f"--near-bits needs --images and a value between 0 and {HASH_BITS}")
    ds, issues = load_validated(args.file, fix=args.fix)
    groups, left_out = [], []
    if args.images:
        disk = match_images(ds, args.images, missing=args.missing)
        left_out = disk.missing
        ds = ds.subset(list(disk.paths))
        names = list(disk.paths)
        groups = byte_groups(names, [file_sha256(disk.paths[n]) for n in names])
        if args.near_bits is not None:
            pairs = near_pairs([phash(disk.paths[n]) for n in names], args.near_bits)
            groups += [[names[k] for k in g] for g in groups_from_pairs(len(names), pairs)]
    split = make_split(ds, folds=args.folds, val_fraction=args.val_fraction, stratify=args.stratify,
                       seed=args.seed, groups=groups)
    manifest = {
        "source": args.file, "seed": args.seed, "stratify": args.stratify,
        "folds": args.folds, "val_fraction": args.val_fraction,
        "repairs": len(issues), "left_out_no_photo": left_out,
    }
    files = split_files(split, ds, manifest=manifest)
    write_files(args.out, files, overwrite=args.force, inputs=[args.file])
    parts = split.table(ds)
    if args.json:
        print_json({**manifest, "out": args.out, "files": sorted(files), "parts": parts,
                    "kept_together": split.groups})
        return 0
    labels = sorted({lab for p in parts.values() for lab in p["by_stratum"]})
    rows = [[name, p["images"], p["lesions"], *[p["by_stratum"].get(lab, 0) for lab in labels]]
            for name, p in parts.items()]
    print(table(rows, ["part", "images", "lesions", *labels]))
    if issues:
        print(f"repaired {len(issues)} problems in the input before splitting (see `acnekit validate`)")
    if left_out:
        print(f"left out {len(left_out)} images without a photo in {args.images}")
    if args.images:
        what = "byte-identical" if args.near_bits is None else f"byte-identical or near-duplicate (<= {args.near_bits} bits)"
        print(f"{len(split.groups)} groups of {what} photos kept together")
    print(f"wrote {len(files)} files to {args.out}")
    return 0

