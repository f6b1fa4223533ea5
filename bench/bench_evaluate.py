"""Benchmark: `acnekit.metrics.evaluate` versus pycocotools `segm` on the full Acne04-v2 file.

Ground truth: the real Acne04-v2 file, loaded with fix=True (32k circles). Predictions: a
seeded jittered copy (centre and radius noise, ~10% of lesions dropped, ~10% random false
positives added, random scores). Times, each the median of several runs on data already
in memory:

* acnekit: ``evaluate(gt, pred)`` (all figures: AP at 10 IoUs, PR, F1, counts, grades);
* pycocotools: COCO index + loadRes + COCOeval('segm') evaluate + accumulate, area range
  'all' only, maxDets [1, 10, 1000]; ground truth as 64-gon polygons (rasterised inside
  the timed part), predictions as RLE masks (loadRes requires RLE for segm results; their
  rasterisation is done beforehand and timed separately); each run gets fresh copies of
  the inputs (pycocotools rewrites them in place), copied outside the timed part;
* faster-coco-eval (if installed): the same as pycocotools.

Run: .venv/bin/python bench/bench_evaluate.py [--repeats 5] [--coco-repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from acnekit.circles import Circles
from acnekit.dataset import load_dataset
from acnekit.metrics import evaluate
from acnekit.metrics.coco_segm import coco_segm_inputs

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "acne04v2" / "Acne04-v2_annotations.json"


def jittered(gt, seed: int):
    rng = np.random.default_rng(seed)
    images = []
    for im in gt.images:
        c = im.circles
        keep = rng.random(len(c)) > 0.1
        r = c.radius[keep] * np.exp(rng.normal(0, 0.15, keep.sum()))
        xy = c.xy[keep] + rng.normal(0, 0.15, (keep.sum(), 2)) * c.radius[keep, None]
        m = rng.poisson(0.1 * len(c))
        xy = np.vstack([xy, rng.random((m, 2)) * [im.width, im.height]])
        r = np.concatenate([r, rng.uniform(5, 40, m)])
        xy = np.clip(xy, 0, [im.width, im.height])
        images.append(im.with_circles(Circles(xy, r, rng.random(len(r)))))
    return replace(gt, images=images, path="jittered copy")


def run_coco(coco_mod, eval_cls, gt_dict, dets) -> float:
    """One COCO segm evaluation; returns AP50 (area 'all', 1000 detections)."""
    with contextlib.redirect_stdout(io.StringIO()):
        cg = coco_mod.COCO()
        cg.dataset = gt_dict
        cg.createIndex()
        cd = cg.loadRes(dets)
        ev = eval_cls(cg, cd, "segm")
        ev.params.areaRng = [[0, 1e10]]
        ev.params.areaRngLbl = ["all"]
        ev.params.maxDets = [1, 10, 1000]
        ev.evaluate()
        ev.accumulate()
    return float(np.mean(ev.eval["precision"][0, :, 0, 0, 2]))


def timed(fn, repeats: int, setup=lambda: ()):
    """Median wall time of ``fn(*setup())``; ``setup`` runs untimed before each run."""
    times, out = [], None
    for _ in range(repeats):
        args = setup()
        t = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def fresh(gt_dict, dets):
    """pycocotools edits its inputs in place (GT polygons become RLE, results gain a bbox):
    give each run its own copy so every run does the full work."""
    return copy.deepcopy(gt_dict), [dict(d) for d in dets]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--coco-repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not Path(args.data).exists():
        print(f"real data not available: {args.data}", file=sys.stderr)
        return 2
    gt, repairs = load_dataset(args.data, fix=True)
    pred = jittered(gt, args.seed)
    print(f"ground truth: {len(gt)} images, {gt.n_lesions} circles ({len(repairs)} repairs on load); "
          f"predictions: {pred.n_lesions} circles")

    med, times, res = timed(lambda: evaluate(gt, pred), args.repeats)
    ours_ap50 = res["detection"]["ap50"]
    print(f"acnekit evaluate: median {med:.3f} s over {len(times)} runs "
          f"({', '.join(f'{t:.3f}' for t in times)}); AP50 {ours_ap50:.4f}, AP50:95 {res['detection']['ap50_95']:.4f}")

    from pycocotools import coco, mask
    from pycocotools.cocoeval import COCOeval

    t = time.perf_counter()
    gt_dict, dets = coco_segm_inputs(gt, pred, mask)
    print(f"preparation (not timed below): polygons + prediction RLE masks in {time.perf_counter() - t:.1f} s")
    cmed, ctimes, coco_ap50 = timed(lambda g, d: run_coco(coco, COCOeval, g, d), args.coco_repeats,
                                      lambda: fresh(gt_dict, dets))
    print(f"pycocotools segm: median {cmed:.3f} s over {len(ctimes)} runs "
          f"({', '.join(f'{t:.3f}' for t in ctimes)}); AP50 {coco_ap50:.4f}")
    print(f"ratio pycocotools / acnekit: {cmed / med:.1f}x")
    try:
        import faster_coco_eval as fce
        from faster_coco_eval.core import mask as fmask
    except ImportError:
        return 0
    fgt, fdets = coco_segm_inputs(gt, pred, fmask)
    fmed, ftimes, f_ap50 = timed(lambda g, d: run_coco(fce, fce.COCOeval_faster, g, d), args.coco_repeats,
                                     lambda: fresh(fgt, fdets))
    print(f"faster-coco-eval segm: median {fmed:.3f} s over {len(ftimes)} runs "
          f"({', '.join(f'{t:.3f}' for t in ftimes)}); AP50 {f_ap50:.4f}; ratio to acnekit {fmed / med:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
