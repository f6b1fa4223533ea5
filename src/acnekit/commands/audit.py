"""`acnekit audit FILE [--images DIR] [--json]`."""

from __future__ import annotations

import argparse

from acnekit.audit import COINCIDENT_PX, COINCIDENT_RADIUS, coincident_circles, grade_mismatches, \
    out_of_bounds, photo_duplicates
from acnekit.commands._common import print_json, table
from acnekit.commands._data import add_images_args, load_lenient
from acnekit.errors import DatasetError
from acnekit.grading import HAYASHI_UPPER, band_labels, parse_bands
from acnekit.photohash import HASH_BITS, NEAR_BITS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit", help="find duplicate photos, grade disagreements, out-of-bounds and duplicate circles",
        description="Audit an Acne04-v2 file: byte-identical and near-duplicate photos (with --images), "
                    "filename grade prefix versus the Hayashi grade of the count, circles out of bounds, "
                    "coincident duplicate circles; prints a summary table. Exit code 0 when no problem "
                    "is found, 1 when duplicates or out-of-bounds circles are found (grade disagreements "
                    "and circles crossing the border are reported, not counted as problems), 2 on errors.")
    p.add_argument("file", help="Acne04-v2 JSON file")
    add_images_args(p, "and look for duplicate photos")
    p.add_argument("--near-bits", type=int, default=NEAR_BITS, metavar="B",
                   help=f"near-duplicate photos: pHash Hamming distance at most B of {HASH_BITS} bits "
                        "(default: %(default)s)")
    p.add_argument("--bands", default=",".join(map(str, HAYASHI_UPPER)),
                   help="inclusive upper lesion counts of each grade but the last (default: %(default)s, Hayashi)")
    p.add_argument("--show", type=int, default=10, metavar="N", help="list at most N items per check (default 10)")
    p.add_argument("--json", action="store_true", help="machine-readable output (every finding)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        bands = parse_bands(args.bands)
    except ValueError as exc:
        raise DatasetError(f"--bands: {exc}") from None
    if not 0 <= args.near_bits <= HASH_BITS:
        raise DatasetError(f"--near-bits must be between 0 and {HASH_BITS}, got {args.near_bits}")
    loaded = load_lenient(args.file, args.images, args.missing)
    ds = loaded.recorded
    result = {
        "file": args.file,
        "images": len(ds),
        "lesions": loaded.n_annotations,
        "grades": grade_mismatches(ds, bands),
        "out_of_bounds": out_of_bounds(ds, loaded.issues),
        "coincident": coincident_circles(ds),
        "photos": None,
    }
    if loaded.disk is not None:
        result["photos"] = photo_duplicates(loaded.disk.paths, args.near_bits)
        result["on_disk"] = loaded.disk.to_dict()
    ph = result["photos"]
    problems = len(result["coincident"]) + result["out_of_bounds"]["invalid"]
    if ph is not None:
        problems += len(ph["byte_identical"]) + len(ph["near_pairs"])
    result["problems"] = problems
    if args.json:
        print_json(result)
    else:
        print(_text(result, loaded, bands, args.show))
    return 1 if problems else 0


def _names(items: list, k: int) -> str:
    return ", ".join(items[:k]) + (f", ... ({len(items) - k} more)" if len(items) > k else "")


def _text(r: dict, loaded, bands, k: int) -> str:
    g, o, co, ph = r["grades"], r["out_of_bounds"], r["coincident"], r["photos"]
    rows = []
    if ph is None:
        rows.append(["byte-identical photos", "skipped", "-", "needs --images DIR"])
        rows.append(["near-duplicate photos", "skipped", "-", "needs --images DIR"])
    else:
        n_exact = sum(len(x) for x in ph["byte_identical"])
        rows.append(["byte-identical photos", "FOUND" if n_exact else "ok", len(ph["byte_identical"]),
                     f"groups ({n_exact} photos) among {ph['photos']} photos"])
        rows.append(["near-duplicate photos", "FOUND" if ph["near_pairs"] else "ok", len(ph["near_pairs"]),
                     f"pairs within {ph['near_bits']} of {HASH_BITS} pHash bits"])
    rows.append(["filename grade vs Hayashi", "info", g["mismatched"],
                 f"of {g['graded']} images disagree; {g['off_by_2_or_more']} by 2 or more grades"])
    rows.append(["circles out of bounds", "FOUND" if o["invalid"] else "ok", o["invalid"],
                 f"invalid circles in {len(o['invalid_by_image'])} images (centre outside / radius too large)"])
    rows.append(["circles crossing the border", "info", o["crossing_border"],
                 f"valid circles in {o['crossing_border_images']} images whose disc extends past the edge"])
    rows.append(["coincident duplicate circles", "FOUND" if co else "ok", len(co),
                 f"groups of {sum(c['circles'] for c in co):,} circles (centres within {COINCIDENT_PX:g} px, "
                 f"radii within {COINCIDENT_RADIUS:.0%})"])
    out = [f"audit of {r['file']}: {r['images']} images, {r['lesions']:,} annotations",
           table(rows, ["check", "status", "found", "detail"])]
    if ph is not None:
        for grp in ph["byte_identical"][:k]:
            out.append("  identical bytes: " + ", ".join(grp))
        for p in ph["near_pairs"][:k]:
            out.append(f"  near duplicates: {p['a']} ~ {p['b']} ({p['bits']} bits)")
    for name, n in list(o["invalid_by_image"].items())[:k]:
        total = n + next((im.count for im in loaded.recorded.images if im.file_name == name), 0)
        out.append(f"  out of bounds: {name}: {n} of its {total} circles")
    for c in co[:k]:
        ids = ", ".join(map(str, c["ids"][:6])) + (", ..." if c["circles"] > 6 else "")
        radii = f"radius {c['radius_min']:g}" if c["radius_min"] == c["radius_max"] else \
            f"radii {c['radius_min']:g}-{c['radius_max']:g}"
        out.append(f"  coincident: {c['file_name']}: {c['circles']} circles (annotations {ids}) "
                   f"within {c['max_distance']:g} px, {radii}")
    labels = band_labels(bands)
    out.append("filename grade (rows) vs Hayashi grade of the count (columns " + ", ".join(labels) + "):")
    conf = [[f"levle{i}", *row] for i, row in enumerate(g["confusion"])]
    out.append(table(conf, ["", *[f"H{j}" for j in range(len(labels))]]))
    for m in g["mismatches"][:k]:
        out.append(f"  {m['file_name']}: levle{m['filename_grade']} but {m['count']} lesions "
                   f"(Hayashi {m['hayashi_grade']})")
    if loaded.disk is not None:
        out.extend(loaded.disk.summary_lines())
    if loaded.issues and len(loaded.issues) > o["invalid"]:
        out.append(f"note: the loader found {len(loaded.issues)} problems in all; see `acnekit validate FILE`")
    return "\n".join(out)
