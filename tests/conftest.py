"""Shared fixtures. Real data lives in ../shared/data; tests that need it skip when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests run with a fixed seed so CI is repeatable; explore new examples locally
# with HYPOTHESIS_PROFILE=explore.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()
ACNE04V2_JSON = SHARED_DATA / "acne04v2" / "Acne04-v2_annotations.json"
ACNE640 = SHARED_DATA / "acne04-640"
FULLRES = SHARED_DATA / "fullres"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (see ../shared/data/README.md)")
    return path


@pytest.fixture
def real_json() -> Path:
    """The full Acne04-v2 annotation file."""
    return _need(ACNE04V2_JSON)


@pytest.fixture
def acne640() -> Path:
    """Folder with images/, train.txt, val.txt, voc/ (640x640 ACNE04 photos)."""
    return _need(ACNE640)


@pytest.fixture
def fullres() -> Path:
    """Four full-resolution ACNE04 photos."""
    return _need(FULLRES)


@pytest.fixture(scope="session")
def fullres_face():
    """(rgb, `analyse_face` result) of the full-resolution photo levle2_82, analysed once."""
    from acnekit.face import landmarks

    path = _need(FULLRES / "levle2_82.jpg")
    if not landmarks.available():
        pytest.skip("onnxruntime is not installed: the face models cannot run")
    from acnekit.face.pipeline import analyse_face
    from acnekit.imageio import read_image

    rgb = read_image(path)
    return rgb, analyse_face(rgb)
