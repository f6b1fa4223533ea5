"""Run the real ``acnekit serve`` with a stand-in detector, for the browser test and
bench/bench_web_load.py when the shipped model is not wanted or not there.

    python tests/_web_server.py {fake|face|untrained} [serve options...]

``fake`` finds red discs (tests/_assess_fake.py) and grades those of radius >= 8 px; ``face``
is ``fake`` with a stand-in face analysis (`fake_face`: an iris scale of 10 px/mm, a face
geometry whose regions go by position and whose top-left corner is outside the skin), so the page's grade, regions
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


def fake_geometry(width: int, height: int):
    """The stand-in face's geometry (`acnekit.face.geometry.FaceGeometry`): the whole photo is
    skin but its top-left 90 x 90 px corner (hair); one anchor each for the forehead (200, 30),
    the right cheek (260, 130) and the chin (100, 200). The synthetic photo's discs fall
    outside, in the right cheek and in the chin; (250, 40) is forehead."""
    import numpy as np

    from acnekit.face.geometry import FaceGeometry

    def poly(*xy):
        return np.array(xy, dtype=np.float64)

    return FaceGeometry(width, height, [poly((0, 0), (width, 0), (width, height), (0, height))],
                        [poly((0, 0), (90, 0), (90, 90), (0, 90))],
                        {"forehead": poly((200, 30)), "right_cheek": poly((260, 130)), "chin": poly((100, 200))})


def fake_face(rgb):
    """A stand-in for `acnekit.face.pipeline.analyse_face`: a face is "found" on any photo,
    with the geometry of `fake_geometry` (carried in ``summary.face.geometry`` like a real one);
    the iris scale is 10 +- 0.8 px/mm."""
    from types import SimpleNamespace

    from acnekit.face.pipeline import FaceAnalysis

    geometry = fake_geometry(rgb.shape[1], rgb.shape[0])
    note = "iris of the nearer eye (fake), 11.7 mm assumed"
    summary = {"found": True, "note": "fake face", "region_skin_area_px2": dict(SKIN_PX2),
               "regions_shown": list(SKIN_PX2), "geometry": geometry.to_json()}
    return FaceAnalysis(SimpleNamespace(size_px=lambda: 0.0), summary,
                        iris={"px_per_mm": FACE_PPM, "uncertainty": FACE_PPM_SD, "note": note},
                        mask=geometry.mask, geometry=geometry)


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
