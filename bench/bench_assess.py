"""Assess one full-resolution photo end to end (read, detect, summarise, draw, report, write):
median of 5 runs after one warm-up, with the time of each stage.

    .venv/bin/python bench/bench_assess.py [--photo PATH] [--model PATH] [--untrained] [--runs 5]

Needs the shipped model (src/acnekit/weights/acnekit-circlenet.safetensors) or --model; skips
with a message when it is absent. --untrained times the same network with random weights
(same compute per pixel, but few detections to draw): plumbing figures only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULLRES = (ROOT / ".." / "shared" / "data" / "fullres").resolve()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", type=Path, help="photo to assess (default: the first in ../shared/data/fullres)")
    ap.add_argument("--model", help="detector weights (default: the shipped model)")
    ap.add_argument("--untrained", action="store_true", help="random-weight network (plumbing timing only)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    from acnekit.assess import assess_photo, write_outputs
    from acnekit.detector.infer import DEFAULT_MODEL, Detector
    from acnekit.heap import keep_freed_memory

    keep_freed_memory()  # as the acnekit CLI does
    photo = args.photo
    if photo is None:
        found = sorted(FULLRES.glob("*.jpg")) if FULLRES.is_dir() else []
        if not found:
            print(f"skip: no full-resolution photos in {FULLRES}")
            return 0
        photo = found[0]
    if args.untrained:
        from acnekit.detector.network import CircleNet

        det = Detector(CircleNet(), {})
    else:
        if args.model is None and not DEFAULT_MODEL.exists():
            print(f"skip: shipped model absent ({DEFAULT_MODEL}); pass --model PATH or --untrained")
            return 0
        det = Detector.load(args.model)

    import torch

    stages: dict[str, list[float]] = {"read+detect+summarise": [], "draw+report+write": [], "total": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs + 1):
            t0 = time.perf_counter()
            a = assess_photo(photo, det)
            t1 = time.perf_counter()
            write_outputs(a, a.rgb, Path(tmp) / f"run{i}")
            t2 = time.perf_counter()
            if i == 0:
                continue  # warm-up
            stages["read+detect+summarise"].append(t1 - t0)
            stages["draw+report+write"].append(t2 - t1)
            stages["total"].append(t2 - t0)
        size = sum(p.stat().st_size for p in (Path(tmp) / "run1").iterdir())
        from acnekit.assess import load_photo, render_outputs

        parts: dict[str, list[float]] = {"read": [], "detect": [], "render (draw+report)": []}
        for _ in range(args.runs):  # the same work, stage by stage
            t0 = time.perf_counter()
            rgb = load_photo(photo)
            t1 = time.perf_counter()
            det.predict(rgb)
            t2 = time.perf_counter()
            render_outputs(a, rgb)
            t3 = time.perf_counter()
            parts["read"].append(t1 - t0)
            parts["detect"].append(t2 - t1)
            parts["render (draw+report)"].append(t3 - t2)
        stages.update({f"  of which {k}": v for k, v in parts.items()})
    print(f"photo {photo.name} {a.width}x{a.height}, model {det.name}, {a.summary['count']} lesions, "
          f"torch threads {torch.get_num_threads()}, outputs {size / 1e6:.2f} MB")
    for k, v in stages.items():
        print(f"{k:>22}: median {statistics.median(v):.3f} s  (min {min(v):.3f}, max {max(v):.3f}, n={len(v)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
