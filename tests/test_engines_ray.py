"""The Ray engine on a local Ray started here (2 CPUs, no dashboard, loopback): the shipped model
gives the same circles as the local engine, and the same failure list.

Bitwise identity needs the same torch thread count on both sides: Ray gives a 0.5-CPU actor
one thread, so the local run here uses one thread too (with different counts, scores differ
in the 7th digit, from the order of float sums)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'acnekit[ray]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'acnekit[ray]')")

from acnekit.cli import main  # noqa: E402

RAY_ARGS = ["--engine", "ray", "--ray-actors", "1", "--ray-cpus", "0.5", "--no-progress"]


@pytest.fixture(scope="module")
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    # workers inherit this process's environment: make them import this acnekit (and the fakes)
    here = Path(__file__).resolve().parent
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(here.parent / "src"), str(here), *filter(None, [old])])
    try:
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
        yield
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture
def one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def photos(tmp_path, acne640):
    from acnekit.detector.infer import DEFAULT_MODEL

    if not DEFAULT_MODEL.exists():
        pytest.skip(f"shipped model not available: {DEFAULT_MODEL} is absent")
    names = (acne640 / "val.txt").read_text().split()[:2]
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in names:
        (folder / n).symlink_to(acne640 / "images" / n)
    (folder / "text.jpg").write_text("not a photo")
    return folder


def test_ray_fake_detector_synthetic_photos(tmp_path, local_ray, monkeypatch, capsys):
    """No real data needed: the stand-in detector (pickled to the actor) on synthetic photos."""
    from _assess_fake import FakeDetector
    from test_batch import folder_of_photos

    monkeypatch.setattr("acnekit.commands.detect.load_detector", lambda path: FakeDetector())
    f = folder_of_photos(tmp_path, n_good=3)
    assert main(["detect", str(f), "--out", str(tmp_path / "ray.json"), "--batch", "2", *RAY_ARGS]) == 1
    assert main(["detect", str(f), "--out", str(tmp_path / "local.json"), "--batch", "2", "--no-progress"]) == 1
    a, b = (json.loads((tmp_path / f"{k}.json").read_text()) for k in ("ray", "local"))
    assert a == b and len(a["images"]) == 3 and len(a["annotations"]) == 6 and len(a["info"]["failures"]) == 2
    assert main(["detect", str(f), "--out", str(tmp_path / "shard.json"), "--shard", "2/2", *RAY_ARGS]) == 0
    assert [im["file_name"] for im in json.loads((tmp_path / "shard.json").read_text())["images"]] == \
        ["good_0.jpg", "good_2.jpg"]  # sorted names cut.jpg, good_0, good_1, good_2, text.jpg: 2nd and 4th


def test_ray_detect_and_assess_match_local(tmp_path, photos, local_ray, one_thread, capsys):
    assert main(["detect", str(photos), "--out", str(tmp_path / "ray.json"), *RAY_ARGS]) == 1
    assert main(["detect", str(photos), "--out", str(tmp_path / "local.json"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("text.jpg: not an image") == 4  # skipped, then failed, by each engine
    a, b = (json.loads((tmp_path / f"{k}.json").read_text()) for k in ("ray", "local"))
    assert len(a["images"]) == 2 and len(a["annotations"]) > 10
    assert a == b  # same circles, scores, failures, bit for bit

    assert main(["assess", str(photos), "--out", str(tmp_path / "ar"), *RAY_ARGS]) == 1
    assert main(["assess", str(photos), "--out", str(tmp_path / "al"), "--no-progress"]) == 1
    for stem in (p.stem for p in photos.iterdir() if p.name != "text.jpg"):
        ra, lo = ((tmp_path / k / stem / "assessment.json").read_bytes() for k in ("ar", "al"))
        assert ra == lo
    assert (tmp_path / "ar" / "summary.csv").read_text().replace("/ar/", "/al/") == \
        (tmp_path / "al" / "summary.csv").read_text()
