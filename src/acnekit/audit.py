"""Dataset audit: problems a valid file can still have.

Checks (each returns plain JSON-ready data):
- byte-identical photos (SHA-256) and near-duplicate photos (256-bit DCT pHash), with --images;
- filename grade prefix (ACNE04's ``levleN_``) versus the Hayashi grade of the circle count;
- circles out of bounds: invalid ones (centre outside the image, radius larger than it, as the
  lenient loader found them) and, for information, valid circles whose disc crosses the border;
- coincident duplicate circles: circles of one image whose centres are within `COINCIDENT_PX`
  and whose radii differ by at most `COINCIDENT_RADIUS` (relative to the larger), reported as
  groups (memory linear in the annotations, however many copies a file holds).

Geometry checks run on the recorded coordinates (the scale the annotators worked at).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from acnekit.dataset import AcneDataset
from acnekit.grading import HAYASHI_UPPER, filename_grade, hayashi_grade
from acnekit.photohash import byte_groups, file_sha256, groups_from_pairs, near_pairs, phash, phash_hex

COINCIDENT_PX = 1.0
COINCIDENT_RADIUS = 0.2
OUTSIDE_CODES = ("annotation.outside", "annotation.radius_too_large")


def photo_duplicates(paths: dict[str, "object"], near_bits: int) -> dict:
    """Byte-identical groups and near-duplicate pairs/groups among the photos ``paths``
    (file name -> path). Near-duplicate pairs that are byte-identical are not repeated."""
    names = list(paths)
    digests = [file_sha256(paths[n]) for n in names]
    exact = byte_groups(names, digests)
    hashes = [phash(paths[n]) for n in names]
    pairs = near_pairs(hashes, near_bits)
    near = [
        {"a": names[i], "b": names[j], "bits": int(d)}
        for i, j, d in pairs.tolist()
        if digests[i] != digests[j]
    ]
    near.sort(key=lambda p: (p["bits"], p["a"], p["b"]))
    index = {n: k for k, n in enumerate(names)}
    kept = np.array([[index[p["a"]], index[p["b"]]] for p in near], dtype=np.int64).reshape(-1, 2)
    groups = [sorted(names[k] for k in g) for g in groups_from_pairs(len(names), kept)]
    return {
        "photos": len(names),
        "byte_identical": exact,
        "near_bits": near_bits,
        "near_pairs": near,
        "near_groups": sorted(groups, key=lambda g: g[0]),
        "phash": {n: phash_hex(h) for n, h in zip(names, hashes)},
    }


def grade_mismatches(ds: AcneDataset, bands: Sequence[int] = HAYASHI_UPPER) -> dict:
    """Filename grade versus Hayashi grade of the count: confusion table and the mismatches,
    largest disagreement first."""
    counts = ds.counts()
    hay = hayashi_grade(counts, bands)
    k = len(bands) + 1
    table = np.zeros((k, k), dtype=np.int64)
    rows, no_prefix = [], 0
    for im, c, h in zip(ds.images, counts.tolist(), hay.tolist()):
        g = filename_grade(im.file_name)
        if g is None or g >= k:
            no_prefix += 1
            continue
        table[g, h] += 1
        if g != h:
            rows.append({"file_name": im.file_name, "filename_grade": g, "hayashi_grade": h, "count": c})
    rows.sort(key=lambda r: (-abs(r["filename_grade"] - r["hayashi_grade"]), r["file_name"]))
    graded = int(table.sum())
    return {
        "graded": graded,
        "no_prefix": no_prefix,
        "agree": int(np.trace(table)),
        "mismatched": len(rows),
        "off_by_2_or_more": sum(abs(r["filename_grade"] - r["hayashi_grade"]) >= 2 for r in rows),
        "confusion": table.tolist(),  # rows: filename grade, columns: Hayashi grade
        "mismatches": rows,
    }


def out_of_bounds(ds: AcneDataset, issues: list) -> dict:
    """Invalid circles (from the loader's issues) and valid circles crossing the image border."""
    bad = [i for i in issues if i.code in OUTSIDE_CODES]
    per_image: dict[str, int] = {}
    for i in bad:
        per_image[i.image or "?"] = per_image.get(i.image or "?", 0) + 1
    crossing = []
    for im in ds.images:
        c = im.circles
        if not len(c):
            continue
        x, y, r = c.xy[:, 0], c.xy[:, 1], c.radius
        n = int(np.count_nonzero((x - r < 0) | (y - r < 0) | (x + r > im.width) | (y + r > im.height)))
        if n:
            crossing.append((im.file_name, n))
    return {
        "invalid": len(bad),
        "invalid_by_image": dict(sorted(per_image.items(), key=lambda kv: (-kv[1], kv[0]))),
        "invalid_where": [i.where for i in bad],
        "crossing_border": sum(n for _, n in crossing),
        "crossing_border_images": len(crossing),
    }


def coincident_circles(ds: AcneDataset, max_dist: float = COINCIDENT_PX,
                       max_rel_radius: float = COINCIDENT_RADIUS, block: int = 100_000) -> list[dict]:
    """Groups of coincident circles: circles of one image linked when their centres are within
    ``max_dist`` px and their radii within ``max_rel_radius`` of the larger, grouped into
    connected sets (so k copies of one circle are one group of k, not k(k-1)/2 pairs).

    Memory stays linear in the annotations however duplicate-heavy the file: exact copies
    (same image, x, y, r) are collapsed first; the distinct circles are then compared only with
    those in their own and the 8 neighbouring grid cells of side ``max_dist``, ``block`` query
    circles at a time, and each candidate pair is tested as soon as it is made."""
    sizes = ds.counts()
    if sizes.sum() == 0:
        return []
    img = np.repeat(np.arange(len(ds)), sizes)
    xyr = np.concatenate([im.circles.xyr for im in ds.images])
    uniq, inverse = np.unique(np.column_stack([img.astype(np.float64), xyr]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    uimg, uxy, ur = uniq[:, 0].astype(np.int64), uniq[:, 1:3], uniq[:, 3]
    cell = np.floor(uxy / max_dist).astype(np.int64)
    cell -= cell.min(axis=0) - 1  # >= 1, so that neighbour -1 stays >= 0
    span = cell.max(axis=0) + 2
    if float(len(ds)) * float(span[0]) * float(span[1]) >= 2.0**62:
        raise ValueError("coordinates too large for the grid index")
    key = (uimg * span[0] + cell[:, 0]) * span[1] + cell[:, 1]
    order = np.argsort(key, kind="stable")
    skey = key[order]
    pi, pj, pd = [], [], []
    for start in range(0, len(skey), block):
        q = np.arange(start, min(start + block, len(skey)))  # positions in the sorted order
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                target = skey[q] + dx * span[1] + dy
                lo = np.searchsorted(skey, target, "left")
                n = np.searchsorted(skey, target, "right") - lo
                if not n.any():
                    continue
                i = np.repeat(q, n)
                j = np.repeat(lo, n) + np.arange(len(i)) - np.repeat(np.cumsum(n) - n, n)
                keep = i < j
                i, j = order[i[keep]], order[j[keep]]
                d = np.hypot(*(uxy[i] - uxy[j]).T)
                ok = (d <= max_dist) & (np.abs(ur[i] - ur[j]) <= max_rel_radius * np.maximum(ur[i], ur[j]))
                pi.append(i[ok])
                pj.append(j[ok])
                pd.append(d[ok])
    pi = np.concatenate(pi) if pi else np.zeros(0, np.int64)
    pj = np.concatenate(pj) if pj else np.zeros(0, np.int64)
    pd = np.concatenate(pd) if pd else np.zeros(0)
    label = _components(len(uniq), pi, pj)
    far = np.zeros(len(uniq))
    np.maximum.at(far, label[pi], pd)
    group = label[inverse]  # per annotation
    members = np.bincount(group, minlength=len(uniq))
    local = np.concatenate([np.arange(n) for n in sizes])
    out = []
    idx = np.flatnonzero(members[group] >= 2)
    idx = idx[np.argsort(group[idx], kind="stable")]
    for part in np.split(idx, np.flatnonzero(np.diff(group[idx])) + 1) if len(idx) else []:
        im = ds.images[img[part[0]]]
        ids = [int(im.ann_ids[k]) if im.ann_ids is not None else int(k) for k in local[part]]
        r = xyr[part, 2]
        out.append({"file_name": im.file_name, "ids": sorted(ids), "circles": len(part),
                    "max_distance": round(float(far[group[part[0]]]), 3),
                    "radius_min": float(r.min()), "radius_max": float(r.max())})
    out.sort(key=lambda g: (g["file_name"], g["ids"][0]))
    return out


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label (the smallest member) of each of ``n`` nodes linked by edges (i, j)."""
    label = np.arange(n)
    while len(i):
        low = np.minimum(label[i], label[j])
        new = label.copy()
        np.minimum.at(new, i, low)
        np.minimum.at(new, j, low)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    while not np.array_equal(label[label], label):
        label = label[label]
    return label
