"""Load test of the web server: N uploads of one 640x640 photo to POST /api/assess from C
concurrent clients against a local ``acnekit serve``; prints errors, latency percentiles,
throughput and the server's peak memory.

    .venv/bin/python bench/bench_web_load.py [--detector auto|shipped|untrained|fake] [--photo PATH]
                                             [--n 200] [--clients 8] [--workers 2]

``auto`` uses the shipped model when it is installed, else ``untrained`` (a CircleNet with
random weights: the same network compute per photo, few detections). The photo defaults to
the first of ../shared/data/acne04-640/val.txt, else a synthetic 640x640 JPEG. Peak memory is
the server process's VmHWM (peak resident set) from /proc, so Linux only.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ACNE640 = (ROOT / ".." / "shared" / "data" / "acne04-640").resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def default_photo() -> tuple[str, bytes]:
    val = ACNE640 / "val.txt"
    if val.exists():
        name = val.read_text().split()[0]
        path = ACNE640 / "images" / (name if name.endswith(".jpg") else name + ".jpg")
        return str(path), path.read_bytes()
    from PIL import Image

    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(90, 200, (640, 640, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return "synthetic 640x640 noise JPEG", buf.getvalue()


def start_server(detector: str, port: int, workers: int) -> subprocess.Popen:
    opts = ["--port", str(port), "--workers", str(workers)]
    if detector == "shipped":
        cmd = [sys.executable, "-m", "acnekit", "serve", *opts]
    else:
        cmd = [sys.executable, str(ROOT / "tests" / "_web_server.py"), detector, *opts]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}): {proc.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 120 s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", choices=["auto", "shipped", "untrained", "fake"], default="auto")
    ap.add_argument("--photo", type=Path)
    ap.add_argument("--n", type=int, default=200, help="uploads (default 200)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--workers", type=int, default=2, help="server worker threads (default 2)")
    args = ap.parse_args()

    from acnekit.detector.infer import DEFAULT_MODEL

    detector = args.detector
    if detector == "auto":
        detector = "shipped" if DEFAULT_MODEL.exists() else "untrained"
    label, data = (str(args.photo), args.photo.read_bytes()) if args.photo else default_photo()
    port = free_port()
    proc = start_server(detector, port, args.workers)
    url = f"http://127.0.0.1:{port}/api/assess"
    try:
        # one warm-up request (first inference allocates), not counted
        httpx.post(url, files={"file": ("warm.jpg", data, "image/jpeg")}, timeout=120)
        rss_idle = proc_kb(proc.pid, "VmRSS")
        lock = threading.Lock()
        todo = iter(range(args.n))
        lat: list[float] = []
        status: Counter = Counter()
        counts: Counter = Counter()

        def client() -> None:
            with httpx.Client(timeout=300) as c:
                while True:
                    with lock:
                        if next(todo, None) is None:
                            return
                    t0 = time.perf_counter()
                    try:
                        r = c.post(url, files={"file": ("photo.jpg", data, "image/jpeg")})
                        code = r.status_code
                        if code == 200:
                            n_found = r.json()["summary"]["count"]
                    except httpx.HTTPError as exc:
                        code = type(exc).__name__
                    dt = time.perf_counter() - t0
                    with lock:
                        lat.append(dt)
                        status[code] += 1
                        if code == 200:
                            counts[n_found] += 1

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        peak = proc_kb(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

    ms = np.array(lat) * 1000
    errors = sum(v for k, v in status.items() if k != 200)
    print(f"detector: {detector}; photo: {label} ({len(data) / 1024:.0f} KiB); server workers: {args.workers}")
    print(f"{args.n} uploads, {args.clients} concurrent clients, {wall:.1f} s wall, {args.n / wall:.2f} uploads/s")
    print(f"errors: {errors}  (status counts: {dict(status)})")
    print(f"latency ms: p50 {np.percentile(ms, 50):.0f}  p95 {np.percentile(ms, 95):.0f}  max {ms.max():.0f}")
    print(f"lesions per response: {dict(counts)}")
    print(f"server memory: RSS after warm-up {rss_idle / 1024:.0f} MiB, peak RSS (VmHWM) {peak / 1024:.0f} MiB")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
