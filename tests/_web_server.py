"""Run the real ``acnekit serve`` with a stand-in detector, for the browser test and
bench/bench_web_load.py when the shipped model is not wanted or not there.

    python tests/_web_server.py {fake|untrained} [serve options...]

``fake`` finds red discs (tests/_assess_fake.py); ``untrained`` is a randomly initialised
CircleNet (real inference cost, meaningless circles). Only the detector loading is replaced:
argument parsing, the app, limits and uvicorn are those of ``acnekit serve``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_detector(kind: str):
    if kind == "fake":
        from _assess_fake import FakeDetector

        return FakeDetector()
    if kind == "untrained":
        import torch

        from acnekit.detector.infer import Detector
        from acnekit.detector.network import CircleNet

        torch.manual_seed(0)
        return Detector(CircleNet(), {"name": "untrained-circlenet"})
    raise SystemExit(f"unknown detector {kind!r}: expected fake or untrained")


def main(argv: list[str]) -> int:
    import acnekit.commands.serve as serve
    from acnekit.cli import main as cli_main

    if not argv:
        raise SystemExit(__doc__)
    detector = make_detector(argv[0])
    serve.load_detector = lambda path: detector
    return cli_main(["serve", *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
