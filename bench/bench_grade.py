"""The reference grade on ACNE04 val, as `acnekit assess` gives it (face working scale and
skin mask; ``--no-face``: the photo-area rule, every lesion): the graded count against the
VOC box count (MAE, RMSE) and the grade against the file-name grade (accuracy, quadratic
kappa, confusion matrix), beside the anchors (Hayashi on the true box count, the all-lesion
count band, always "moderate"); and the time per photo with and without the graded head and
selector (network and selection only, no face analysis).

    .venv/bin/python bench/bench_grade.py [--split val] [--limit N] [--time-photos 20] [--no-face]

Reads ../shared/data/acne04-640 (skips with a message when absent). Val selected the graded
head's epoch and threshold and the probabilities' sigma, so val figures are optimistic;
the split is by image, not by person, so they are optimistic twice.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data" / "acne04-640").resolve()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="val", choices=("train", "val"))
    ap.add_argument("--limit", type=int, default=0, help="first N photos only (0: all)")
    ap.add_argument("--time-photos", type=int, default=20, help="photos timed with and without the head")
    ap.add_argument("--no-face", action="store_true", help="assess without face analysis (photo-area rule)")
    args = ap.parse_args()
    if not (DATA / "voc").is_dir():
        print(f"skip: {DATA} absent")
        return 0
    import torch

    from acnekit.assess import assess_photo
    from acnekit.detector.graded_train import read_boxes
    from acnekit.detector.infer import Detector
    from acnekit.grading import filename_grade, hayashi_grade
    from acnekit.imageio import read_image
    from acnekit.metrics.grading import cohen_kappa, confusion_matrix
    from acnekit.reference_grade import grade_probabilities

    det = Detector.load()
    if det.graded is None:
        print("skip: the shipped graded head is absent or not for the shipped circle model")
        return 0
    names = (DATA / f"{args.split}.txt").read_text().split()
    names = names[: args.limit] if args.limit else names
    graded, allc, boxes, ref, nll = [], [], [], [], []
    for n in names:
        summary = assess_photo(DATA / "images" / n, det, face=not args.no_face).summary
        k = int(summary["grade"]["count"])
        graded.append(k)
        allc.append(int(summary["count"]))
        boxes.append(len(read_boxes(DATA / "voc" / (Path(n).stem + ".xml"))))
        ref.append(filename_grade(n))
        nll.append(-np.log(max(grade_probabilities(k)[ref[-1]], 1e-12)))
    graded, allc, boxes, ref = map(np.array, (graded, allc, boxes, ref))
    pred = hayashi_grade(graded)
    conf = confusion_matrix(ref, pred, 4)
    print(f"{args.split}: {len(names)} photos, grades {np.bincount(ref, minlength=4).tolist()}; "
          f"graded head {det.graded_card.get('name')} (selector: {'yes' if det.selector else 'no'}, threshold "
          f"{det.graded_threshold}) on {det.name}; {'no face (area rule)' if args.no_face else 'face rule + skin mask'}")
    print(f"graded count vs VOC box count: MAE {np.abs(graded - boxes).mean():.2f}, "
          f"RMSE {np.sqrt(((graded - boxes) ** 2).mean()):.2f}, mean graded {graded.mean():.1f} vs boxes {boxes.mean():.1f}")
    print(f"reference grade vs file-name grade: accuracy {(pred == ref).mean():.3f}, "
          f"quadratic kappa {cohen_kappa(conf, 'quadratic'):.3f}, within one grade {(np.abs(pred - ref) <= 1).mean():.3f}, "
          f"mean -log P(file-name grade) {np.mean(nll):.3f}")
    print("confusion (rows file-name grade, columns predicted):")
    for g, row in enumerate(conf):
        print(f"  {g}: {row.tolist()}")
    print(f"anchors: Hayashi on the VOC box count {(hayashi_grade(boxes) == ref).mean():.3f}; "
          f"all-lesion count band {(hayashi_grade(allc) == ref).mean():.3f}; always moderate {(ref == 1).mean():.3f}")

    torch.set_num_threads(torch.get_num_threads())
    plain = Detector.load(graded=None)
    photos = [read_image(DATA / "images" / n) for n in names[: args.time_photos]]
    runs = {"circles only": plain, "circles + graded head and selector": det}
    ts: dict[str, list[float]] = {k: [] for k in runs}
    for d in runs.values():
        d.predict(photos[0])  # warm-up
    for i, rgb in enumerate(photos):  # interleaved, alternating order: a shared CPU's load hits both alike
        for label in (list(runs) if i % 2 == 0 else list(runs)[::-1]):
            t0 = time.perf_counter()
            runs[label].predict(rgb)
            ts[label].append(time.perf_counter() - t0)
    times = {k: statistics.median(v) for k, v in ts.items()}
    base = times["circles only"]
    for label, t in times.items():
        print(f"time per 640x640 photo, {label}: median {1000 * t:.1f} ms ({100 * (t / base - 1):+.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
