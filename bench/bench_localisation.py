"""Where a detector's val AP50 is lost: localisation (centre, radius) against finding lesions.

Runs a model on the 640 copies of ``../shared/data`` (val, and train with ``--train``) and
prints, per list:

* AP50 as predicted, and with "oracle" substitutions: every prediction that the centre rule
  matches to a true lesion (``acnekit.metrics.matching``, greedy by score at the model's
  score floor) takes that lesion's centre, its radius, or both; and with each matched
  prediction's log-radius error shrunk by 20%. The gaps bound what better localisation
  alone could win; they are not reachable figures.
* Radius error of the centre-matched pairs at the operating threshold: median
  |log(true / predicted radius)| and its spread, and how much of its variance is shared by
  the lesions of one photo (a per-photo convention of the annotator, or a per-photo bias of
  the model): the between-photo share of the variance and the split-half correlation of
  photo means (photos with >= 10 pairs, halves drawn with a fixed seed).

Run: .venv/bin/python bench/bench_localisation.py [--model PATH] [--train]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from acnekit.circles import Circles
from acnekit.dataset import AcneDataset, ImageRecord, load_dataset
from acnekit.detector.data import load_samples, read_name_list
from acnekit.detector.infer import Detector
from acnekit.detector.train import predict_samples
from acnekit.errors import AcneKitError
from acnekit.metrics.evaluate import evaluate
from acnekit.metrics.matching import match_sets

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def centre_pairs(gt: AcneDataset, pred: AcneDataset, thr: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per image: (indices of predictions with score >= thr, matched ground truth or -1),
    by the centre rule."""
    keep = [im.circles.score >= thr for im in pred.images]
    m = match_sets([g.circles.xyr for g in gt.images], [p.circles[k].xyr for p, k in zip(pred.images, keep)],
                   [p.circles.score[k] for p, k in zip(pred.images, keep)], rule="centre")
    first_gt = np.cumsum([0] + [len(g.circles) for g in gt.images])
    out, start = [], 0
    for i, k in enumerate(keep):
        n = int(k.sum())
        g = m.gt_index[0, start:start + n]
        out.append((np.flatnonzero(k), np.where(g >= 0, g - first_gt[i], -1)))
        start += n
    return out


def substituted(gt: AcneDataset, pred: AcneDataset, pairs: list[tuple[np.ndarray, np.ndarray]],
                centre: float, radius: float) -> AcneDataset:
    """Predictions moved a share of the way to the centre / log radius of the lesion each is
    matched to in ``pairs`` (from `centre_pairs`; shares 0..1)."""
    images = []
    for g, p, (idx, gi) in zip(gt.images, pred.images, pairs):
        c = p.circles
        xy, logr = c.xy.copy(), np.log(c.radius)
        hit = gi >= 0
        i, j = idx[hit], gi[hit]
        xy[i] += centre * (g.circles.xy[j] - xy[i])
        logr[i] += radius * (np.log(g.circles.radius[j]) - logr[i])
        images.append(ImageRecord(p.id, p.file_name, p.width, p.height, Circles(xy, np.exp(logr), c.score)))
    return AcneDataset(images)


def radius_errors(gt: AcneDataset, pred: AcneDataset, thr: float) -> list[np.ndarray]:
    """Per image: log(true / predicted radius) of its centre-matched pairs at ``thr``."""
    out = []
    for g, p, (idx, gi) in zip(gt.images, pred.images, centre_pairs(gt, pred, thr)):
        hit = gi >= 0
        out.append(np.log(g.circles.radius[gi[hit]] / p.circles.radius[idx[hit]]))
    return out


def report(name: str, det: Detector, samples) -> None:
    t0 = time.perf_counter()
    gt, pred = predict_samples(det, samples)
    floor, thr = det.card["min_score"], det.score_threshold
    print(f"\n{name}: {len(samples)} photos, {sum(len(im.circles) for im in gt.images)} lesions "
          f"(detected in {time.perf_counter() - t0:.0f} s)")

    def ap(d: AcneDataset) -> float:
        return evaluate(gt, d, score_thr=thr)["detection"]["ap50"]

    print(f"  AP50 {'as predicted':<30}{ap(pred):.3f}")
    pairs = centre_pairs(gt, pred, floor)  # every prediction kept: the same pairs for each substitution
    for label, c, r in (("true centre", 1, 0), ("true radius", 0, 1), ("true centre and radius", 1, 1),
                        ("radius error shrunk 20%", 0, 0.2)):
        print(f"  AP50 {'with ' + label:<30}{ap(substituted(gt, pred, pairs, c, r)):.3f}")
    errs = radius_errors(gt, pred, thr)
    allv = np.concatenate(errs)
    print(f"  centre-matched pairs at threshold {thr:.2f}: {len(allv)}; median |log(true/pred radius)| "
          f"{np.median(np.abs(allv)):.3f}, sd {allv.std():.3f}, median {np.median(allv):+.3f}")
    within = np.concatenate([e - e.mean() for e in errs if len(e) >= 2])
    share = 1 - within.var() / np.concatenate([e for e in errs if len(e) >= 2]).var()
    rng = np.random.default_rng(0)
    halves = []
    for e in errs:
        if len(e) >= 10:
            o = rng.permutation(len(e))
            halves.append((e[o[::2]].mean(), e[o[1::2]].mean()))
    h = np.array(halves)
    print(f"  between-photo share of the log-radius error variance {share:.2f}; split-half correlation "
          f"of photo means {np.corrcoef(h.T)[0, 1]:.2f} ({len(h)} photos with >= 10 pairs)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="weights (.safetensors) or run folder; default: the shipped model")
    ap.add_argument("--train", action="store_true", help="also on the 783 training photos (3 more minutes)")
    args = ap.parse_args()
    ann = DATA / "acne04v2" / "Acne04-v2_annotations.json"
    if not ann.exists():
        print(f"skipped: {DATA} is absent (needs the Acne04-v2 file and the 640 copies)", file=sys.stderr)
        return 0
    ds, _ = load_dataset(ann, fix=True)
    try:
        det = Detector.load(args.model)
    except AcneKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model {det.name}, score floor {det.card['min_score']}, operating threshold {det.score_threshold}, "
          f"flip TTA {bool(det.card.get('tta_flip'))}")
    for lst in ("val", "train") if args.train else ("val",):
        names = read_name_list(DATA / "acne04-640" / f"{lst}.txt")
        report(lst, det, load_samples(ds, DATA / "acne04-640" / "images", names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
