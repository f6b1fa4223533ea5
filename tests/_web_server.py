"""Run the real ``acnekit serve`` with a stand-in detector, for the browser test and
bench/bench_web_load.py when the shipped model is not wanted or not there.

    python tests/_web_server.py {fake|face|untrained} [serve options...]

``fake`` finds red discs (tests/_assess_fake.py) and grades those of radius >= 8 px; ``face``
is ``fake`` with a stand-in face analysis (`fake_face`: an iris scale of 10 px/mm, regions
by position, lesions in the top-left corner outside the skin), so the page's grade, regions
and scale can be tested without the face models; ``untrained`` is a randomly initialised
CircleNet (real inference cost, meaningless circles). Only the detector loading is replaced:
argument parsing, the app, limits and uvicorn are those of ``acnekit serve``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


FACE_PPM, FACE_PPM_SD = 10.0, 0.8
SKIN_PX2 = {"forehead": 20000.0, "left_cheek": 12000.0, "right_cheek": 15000.0, "nose": 5000.0, "chin": 8000.0}


def fake_face(rgb):
    """A stand-in for `acnekit.face.pipeline.analyse_face`: a face is "found" on any photo;
    lesion centres with x < 90 and y < 90 are outside the skin (hair), the others are in the
    forehead (y < 90), the right cheek (x >= 160) or the chin; the iris scale is 10 +- 0.8 px/mm."""
    from types import SimpleNamespace

    import numpy as np

    from acnekit.face.pipeline import FaceAnalysis

    class Fake(FaceAnalysis):
        def lesion_flags(self, xy):
            xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
            ins = ~((xy[:, 0] < 90) & (xy[:, 1] < 90))
            regions = [None if not k else "forehead" if y < 90 else "right_cheek" if x >= 160 else "chin"
                       for (x, y), k in zip(xy, ins)]
            return ins, regions

    note = "iris of the nearer eye (fake), 11.7 mm assumed"
    summary = {"found": True, "note": "fake face", "region_skin_area_px2": dict(SKIN_PX2),
               "regions_shown": list(SKIN_PX2)}
    return Fake(SimpleNamespace(size_px=lambda: 0.0), summary,
                iris={"px_per_mm": FACE_PPM, "uncertainty": FACE_PPM_SD, "note": note})


def make_detector(kind: str):
    if kind == "face":
        import acnekit.face.pipeline as pipeline

        pipeline.analyse_face = fake_face
        kind = "fake"
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
