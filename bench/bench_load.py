"""Load + validate + save the real Acne04-v2 file; print the median of 5 runs (goal: < 1 s).

    .venv/bin/python bench/bench_load.py [FILE] [--repeat N]

Each run: read and parse the JSON, validate every record (lenient mode, so the file's 49
known-bad circles are repaired rather than fatal), build the dataset, serialise it and write
it atomically to a temporary folder. Prints each run's phases and the median total.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from acnekit.dataset import save_dataset
from acnekit.validate import parse_dataset, read_json

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "acne04v2" / "Acne04-v2_annotations.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", default=str(DEFAULT.resolve()))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if not Path(args.file).exists():
        print(f"bench_load: {args.file} not found (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            t0 = time.perf_counter()
            obj = read_json(args.file)
            t1 = time.perf_counter()
            ds, issues = parse_dataset(obj, path=args.file, fix=True)
            t2 = time.perf_counter()
            save_dataset(ds, Path(tmp) / f"out{k}.json")
            t3 = time.perf_counter()
            totals.append(t3 - t0)
            print(f"run {k + 1}: read+parse JSON {t1 - t0:.3f} s, validate {t2 - t1:.3f} s, "
                  f"save {t3 - t2:.3f} s, total {t3 - t0:.3f} s "
                  f"({len(ds)} images, {ds.n_lesions} circles, {len(issues)} repairs)")
    print(f"median load+validate+save over {args.repeat} runs: {statistics.median(totals):.3f} s (goal < 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
