"""Compare two visits: how stable are persisting / new / resolved, and how fast?

    .venv/bin/python bench/bench_compare.py [--data ../shared/data] [--val 10] [--runs 3]
        [--pairs A.jpg,B.jpg ...] [--scan K] [--skip-self] [--skip-time] [--landmarks on|off|both]

1. Self-pairs: each photo (the 4 in fullres/ and the first --val photos of acne04-640/val.txt)
   against a copy of itself rotated 4 degrees, scaled by 0.85, shifted (3%, -2% of the frame)
   and re-encoded as JPEG (quality 85). Nothing changed on the skin, so every lesion should
   persist: prints the share of BEFORE's lesions (in the common region) that persist (target
   >= 90%) and (new + resolved) / BEFORE's count (target <= 10%), per photo and pooled, and
   the registration's error against the known transform.
2. Real pairs (--pairs, or --scan K: try registering each acne04-640 photo with the next K
   names of its grade; --scan-below N: only numbers below N): photos of one face that
   register; prints their figures.
3. Time for two full-resolution photos (read, detect both, register, match, draw, report,
   write; the model loaded once beforehand): median of --runs (target <= 3 s on 2 cores).

--landmarks: seed the registration with the face-landmark similarity (on, the default),
not (off), or both, each pair compared twice and the figures printed per mode.

Needs the shipped model and ../shared/data; skips with a message when either is absent.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ANGLE, SCALE, SHIFT, QUALITY = 4.0, 0.85, (0.03, -0.02), 85
FAINT = 0.5  # --faint-factor
MODES = [True]  # --landmarks: compare_photos(landmarks=...) per mode


def moved_copy(rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    """JPEG bytes of the moved copy and the true BEFORE -> AFTER matrix."""
    import cv2

    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), ANGLE, SCALE)
    m[:, 2] += (SHIFT[0] * w, SHIFT[1] * h)
    moved = cv2.warpAffine(np.ascontiguousarray(rgb), m, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT)
    ok, enc = cv2.imencode(".jpg", moved[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    return enc.tobytes(), m


def registration_error(reg, true_before_to_after: np.ndarray, hw: tuple[int, int]) -> float:
    """Largest distance (BEFORE px) between the found and the true AFTER -> BEFORE mapping
    over a grid on the middle 80% of BEFORE's frame."""
    from acnekit.compare.register import apply

    h, w = hw
    gx, gy = np.meshgrid(np.linspace(0.1 * w, 0.9 * w, 9), np.linspace(0.1 * h, 0.9 * h, 9))
    pts_b = np.column_stack([gx.ravel(), gy.ravel()])
    pts_a = apply(true_before_to_after, pts_b)
    return float(np.abs(apply(reg.matrix, pts_a) - pts_b).max())


def figures(c: dict) -> tuple[int, int, int, int]:
    """BEFORE's lesions in the common region, those of them that persist, new, resolved."""
    k = c["counts"]
    n = k["before"] - k.get("before_outside", 0)
    return n, n - k["resolved"], k["new"], k["resolved"]


def line(name: str, c: dict, extra: str = "") -> str:
    n, p, new, res = figures(c)
    q = c["registration"]["quality"]
    extra = f"  [{c['registration'].get('method', 'texture')}]" + extra
    share = p / n if n else float("nan")
    churn = (new + res) / n if n else float("nan")
    return (f"{name:<22} before {n:>3}  persisting {p:>3} ({share:6.1%})  new {new:>3}  resolved {res:>3}  "
            f"(new+resolved)/before {churn:6.1%}  inliers {q['inliers']:>4} ({q['inlier_ratio']:.0%}) "
            f"median err {q['median_reprojection_error_px']:.1f} px{extra}")


def pooled(rows: list[dict]) -> str:
    n = sum(figures(c)[0] for c in rows)
    p = sum(figures(c)[1] for c in rows)
    ch = sum(figures(c)[2] + figures(c)[3] for c in rows)
    return (f"pooled over {len(rows)} pairs: {n} lesions, persisting {p / n:.1%} (target >= 90%), "
            f"(new + resolved) / before {ch / n:.1%} (target <= 10%)") if n else "no lesions"


def self_pairs(photos: list[Path], det) -> None:
    from acnekit.assess import load_photo
    from acnekit.compare import compare_photos

    by_mode: dict[bool, list[dict]] = {m: [] for m in MODES}
    errs: dict[bool, list[float]] = {m: [] for m in MODES}
    print(f"== self-pairs: rotated {ANGLE} deg, scaled {SCALE}, shifted {SHIFT}, JPEG {QUALITY}; "
          f"faint factor {FAINT or 'off'}; landmark seed {MODES}")
    for p in photos:
        rgb = load_photo(p)
        data, m = moved_copy(rgb)
        for mode in MODES:
            cmp = compare_photos(p, data, det, names=(p.name, "moved.jpg"), faint_factor=FAINT, landmarks=mode)
            d = cmp.to_dict()
            err = registration_error(cmp.registration, m, rgb.shape[:2])
            radius = d["summaries"]["before"]["sizes"]["radius_px"]
            rmed = radius["p50"] if radius else float("nan")
            by_mode[mode].append(d)
            errs[mode].append(err)
            print(line(p.name, d, f"  error vs truth {err:.1f} px (median lesion radius {rmed:.1f} px)"), flush=True)
    for mode, rows in by_mode.items():
        tag = f"landmarks {'on' if mode else 'off'}: "
        print(tag + pooled(rows) + f"; error vs truth median {statistics.median(errs[mode]):.2f} px, "
              f"max {max(errs[mode]):.2f} px; seeded {sum(d['registration'].get('method') == 'landmarks+texture' for d in rows)}"
              f"/{len(rows)}")
        full = [d for d, p in zip(rows, photos) if p.parent.name == "fullres"]
        small = [d for d, p in zip(rows, photos) if p.parent.name != "fullres"]
        if full and small:
            print("  fullres: " + pooled(full))
            print("  640 val: " + pooled(small))


def grade_and_number(name: str) -> tuple[str, int] | None:
    m = re.match(r"(levle\d+)_(\d+)\.jpg$", name)
    return (m.group(1), int(m.group(2))) if m else None


def scan(images: Path, k: int, limit: int | None = None) -> list[tuple[Path, Path, dict]]:
    """Pairs among acne04-640 photos with adjacent numbers in one grade that register."""
    from acnekit.assess import load_photo
    from acnekit.compare.register import RegistrationError, register

    named = sorted((grade_and_number(p.name), p) for p in images.glob("*.jpg") if grade_and_number(p.name))
    if limit:
        named = [x for x in named if x[0][1] < limit]
    by_grade: dict[str, list[tuple[int, Path]]] = {}
    for (g, n), p in named:
        by_grade.setdefault(g, []).append((n, p))
    found, tried = [], 0
    t0 = time.perf_counter()
    for g, items in by_grade.items():
        cache: dict[Path, np.ndarray] = {}
        for i, (_, a) in enumerate(items):
            for _, b in items[i + 1:i + 1 + k]:
                tried += 1
                ra = cache.setdefault(a, load_photo(a))
                rb = cache.setdefault(b, load_photo(b))
                try:
                    reg = register(ra, rb)
                except RegistrationError:
                    continue
                found.append((a, b, reg.to_dict()))
                q = reg.to_dict()["quality"]
                print(f"  registers: {a.name} + {b.name}: {q['inliers']} inliers ({q['inlier_ratio']:.0%}), "
                      f"scale {reg.scale:.3f}, rotation {reg.rotation_deg:.1f} deg", flush=True)
            cache.pop(a, None)
    print(f"scan: tried {tried} adjacent-name pairs in {time.perf_counter() - t0:.0f} s; {len(found)} register")
    return found


def annotated(rec, w: int, h: int) -> dict:
    """An assessment-like dict of an Acne04-v2 record's circles at the photo's size."""
    c = rec.circles.scaled(w / rec.width, h / rec.height)
    return {"images": [{"id": 0, "file_name": rec.file_name, "width": w, "height": h}],
            "annotations": [{"id": i, "coordinates": [float(x), float(y)], "radius": float(r)}
                            for i, (x, y, r) in enumerate(c.xyr)]}


def real_pairs(pairs: list[tuple[Path, Path]], det, truth=None) -> None:
    """Detector figures per pair; with ``truth`` (Acne04-v2 records by name) also the
    annotators' circles matched through the same registration: registration + matching
    without the detector's misses and false alarms."""

    print(f"== real pairs (photos of one face); landmark seed {MODES}")
    for mode in MODES:
        _real_pairs(pairs, det, truth, mode)


def _real_pairs(pairs, det, truth, mode: bool) -> None:
    from acnekit.compare import compare_photos
    from acnekit.compare.core import SUPPORT_MARGIN
    from acnekit.compare.match import compare_lesions
    from acnekit.compare.register import RegistrationError

    rows, gt_rows, refused = [], [], 0
    for a, b in pairs:
        try:
            cmp = compare_photos(a, b, det, faint_factor=FAINT, landmarks=mode)
        except RegistrationError as exc:
            print(f"{a.name} + {b.name}: {exc}")
            refused += 1
            continue
        d = cmp.to_dict()
        rows.append(d)
        r = d["registration"]
        extra = f"  scale {r['scale']:.3f} rot {r['rotation_deg']:.1f} deg common {d['common_region']['share_of_before']:.0%}"
        if truth is not None and a.name in truth and b.name in truth:
            g = compare_lesions(annotated(truth[a.name], cmp.before.width, cmp.before.height),
                                annotated(truth[b.name], cmp.after.width, cmp.after.height), cmp.registration.matrix,
                                median_error_px=cmp.registration.median_error_px,
                                support=cmp.registration.support(SUPPORT_MARGIN * max(cmp.before.width, cmp.before.height)))
            g["registration"] = d["registration"]
            gt_rows.append(g)
            n, p, new, res = figures(g)
            extra += f" | annotators' circles: {n} before, persisting {p / max(n, 1):.0%}, new {new}, resolved {res}"
        print(line(f"{a.name}+{b.name}", d, extra), flush=True)
    tag = f"landmarks {'on' if mode else 'off'}: "
    if rows:
        share = statistics.median(d["common_region"]["share_of_before"] for d in rows)
        err = statistics.median(d["registration"]["quality"]["median_reprojection_error_px"] for d in rows)
        seeded = sum(d["registration"].get("method") == "landmarks+texture" for d in rows)
        print(tag + f"{len(rows)} registered ({refused} refused), seeded {seeded}; median common region "
              f"{share:.0%}, median reprojection error {err:.2f} px")
        print(tag + "detector: " + pooled(rows))
    if gt_rows:
        print(tag + "annotators' circles through the same registrations: " + pooled(gt_rows))


def timing(photo: Path, det, runs: int) -> None:
    from acnekit.assess import load_photo
    from acnekit.commands.compare import run
    import argparse as ap

    tmp = Path(tempfile.mkdtemp(prefix="acnekit-bench-compare-"))
    try:
        data, _ = moved_copy(load_photo(photo))
        after = tmp / "after.jpg"
        after.write_bytes(data)
        import acnekit.commands.compare as cc

        cc.load_detector = lambda path: det
        times, cpu = [], []
        for i in range(runs + 1):
            out = tmp / f"out{i}"
            args = ap.Namespace(before=str(photo), after=str(after), out=str(out), px_per_mm=None, ruler=None,
                                model=None, score_thr=None, faint_factor=FAINT or 0.0, tta="model", max_pixels=None, force=False, json=False)
            t, c = time.perf_counter(), time.process_time()
            sys_stdout, sys.stdout = sys.stdout, io.StringIO()
            try:
                run(args)
            finally:
                sys.stdout = sys_stdout
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        med = statistics.median(times[1:])
        print(f"== time: two {photo.name}-sized photos compared end to end (CLI handler, model loaded): median "
              f"{med:.2f} s wall over {runs} runs after a warm-up (runs: {', '.join(f'{t:.2f}' for t in times[1:])}; "
              f"CPU time {statistics.median(cpu[1:]):.2f} s, all threads); target <= 3 s; load average now "
              f"{', '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")
        from acnekit.compare import compare_photos

        t = time.perf_counter()
        cmp = compare_photos(photo, after, det, faint_factor=FAINT)
        total = time.perf_counter() - t
        st = ", ".join(f"{k} {v:.2f}" for k, v in cmp.seconds.items())
        print(f"   stages: {st} s (compare_photos {total:.2f} s; the rest is drawing, report and writing)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    global FAINT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--val", type=int, default=10, help="acne04-640 val photos for the self-pairs")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pairs", nargs="*", default=[], metavar="A.jpg,B.jpg", help="real pairs (acne04-640 names)")
    ap.add_argument("--scan", type=int, default=0, metavar="K", help="find real pairs among adjacent names")
    ap.add_argument("--faint-factor", type=float, default=0.5, help="hysteresis (0: off)")
    ap.add_argument("--scan-below", type=int, metavar="N", help="scan only photos numbered below N in each grade")
    ap.add_argument("--skip-self", action="store_true")
    ap.add_argument("--skip-time", action="store_true")
    ap.add_argument("--landmarks", choices=("on", "off", "both"), default="on",
                    help="seed the registration with face landmarks (both: each pair twice)")
    args = ap.parse_args()
    FAINT = args.faint_factor or None
    MODES[:] = {"on": [True], "off": [False], "both": [True, False]}[args.landmarks]
    sys.path.insert(0, str(ROOT / "src"))
    data = Path(args.data)
    if not data.exists():
        print(f"skip: {data} is absent")
        return 0
    from acnekit.detector.infer import Detector
    from acnekit.errors import ModelError

    try:
        det = Detector.load(None)
    except ModelError as exc:
        print(f"skip: {exc}")
        return 0
    images = data / "acne04-640" / "images"
    if not args.skip_self:
        val = [ln.strip() for ln in (data / "acne04-640" / "val.txt").read_text().splitlines() if ln.strip()]
        photos = sorted((data / "fullres").glob("*.jpg")) + [images / n for n in val[: args.val]]
        self_pairs(photos, det)
    pairs = [tuple(images / n for n in p.split(",")) for p in args.pairs]
    if args.scan:
        pairs += [(a, b) for a, b, _ in scan(images, args.scan, args.scan_below)]
    if pairs:
        truth = None
        ann = data / "acne04v2" / "Acne04-v2_annotations.json"
        if ann.exists():
            from acnekit.dataset import load_dataset

            loaded = load_dataset(ann, fix=True)
            truth = (loaded[0] if isinstance(loaded, tuple) else loaded).by_name()
        real_pairs(pairs, det, truth)
    if not args.skip_time:
        timing(sorted((data / "fullres").glob("*.jpg"))[0], det, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
