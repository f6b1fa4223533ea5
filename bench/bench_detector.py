"""Detector speed, memory and (with --val) accuracy on this machine. Prints figures; asserts nothing.

    python bench/bench_detector.py [--model PATH] [--val] [--threads N]

- one 640x640 photo (acne04-640/val.txt's first): detect, median of 5 after a warm-up, with the
  model's settings and then with flip TTA off/on x fp32/bf16 (bf16 pays only on CPUs with
  native bf16 instructions: avx512_bf16 or AMX);
- one full-resolution photo (fullres/, 3112x3456): read + resize + detect + map back, median of 5;
- peak resident memory of this process (ru_maxrss);
- --val: AP50 / F1 / count MAE / Hayashi grade accuracy on all val photos at the model's
  operating threshold, with acnekit's evaluator.
Targets from the detector issue: 640 photo <= 0.25 s, full-res <= 1.0 s, peak <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

from acnekit.detector.infer import Detector
from acnekit.heap import keep_freed_memory
from acnekit.imageio import read_image

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def median_time(fn, n: int = 5) -> float:
    for _ in range(3):  # warm-up: oneDNN builds and caches its kernels over the first calls
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--val", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if not DATA.exists():
        print(f"skip: {DATA} absent")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    heap = keep_freed_memory()  # as the acnekit CLI does
    det = Detector.load(args.model)
    print(f"model {det.name}, flip TTA {det.card.get('tta_flip')}, bf16 {det.card.get('bf16')}, "
          f"threads {torch.get_num_threads()}, freed memory kept in the heap {heap}")
    names = (DATA / "acne04-640" / "val.txt").read_text().split()
    small = read_image(DATA / "acne04-640" / "images" / names[0])
    t = median_time(lambda: det.predict(small))
    print(f"640x640 photo, detect: median {t:.3f} s (target <= 0.25 s)")
    saved = dict(det.card)
    for tta in (False, True):
        for bf16 in (False, True):
            det.card.update(tta_flip=tta, bf16=bf16)
            t = median_time(lambda: det.predict(small))
            print(f"  flip TTA {'on ' if tta else 'off'}, {'bf16' if bf16 else 'fp32'}: median {t:.3f} s")
    det.card = saved
    full = sorted((DATA / "fullres").glob("*.jpg"))[0]
    t = median_time(lambda: det.predict(read_image(full)))
    print(f"{full.name} full resolution, read + detect + map back: median {t:.3f} s (target <= 1.0 s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MiB (target <= 1536 MiB)")
    if args.val:
        from acnekit.dataset import load_dataset
        from acnekit.detector.data import load_samples
        from acnekit.detector.train import validate

        ds, _ = load_dataset(DATA / "acne04v2" / "Acne04-v2_annotations.json", fix=True)
        samples = load_samples(ds, DATA / "acne04-640" / "images", names)
        rep = validate(det, samples, score_thr=det.score_threshold)
        d, c, g = rep["detection"], rep["counting"], rep["grading"]
        at = d["at_threshold"]
        print(f"val ({len(samples)} photos) at threshold {det.score_threshold}: AP50 {d['ap50']:.4f}, "
              f"AP50:95 {d['ap50_95']:.4f}, P {at['precision']:.3f} R {at['recall']:.3f} F1 {at['f1']:.3f}, "
              f"best F1 {d['best_f1']['f1']:.3f}, count MAE {c['mae']:.2f}, RMSE {c['rmse']:.2f}, "
              f"Hayashi grade accuracy {g['accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
