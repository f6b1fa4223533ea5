"""Batches of many photos (issue 17): bad photos named at once before the model loads, the good
ones written anyway, exit codes, --fail-fast, --resume, --shard, signals and stale temporary
folders, and the Ray engine against the local one."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from acnekit.cli import main
from acnekit.engines.batch import apply_shard, check_photo, parse_shard
from acnekit.errors import ImageError

from _assess_fake import FakeDetector, photo

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"


def jpeg_bytes(rgb=None, quality=92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo() if rgb is None else rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def folder_of_photos(root: Path, n_good: int = 3, bad: bool = True) -> Path:
    """good_0..good_{n-1}.jpg, plus a truncated JPEG (header intact) and a text file named .jpg."""
    folder = root / "photos"
    folder.mkdir()
    for i in range(n_good):
        (folder / f"good_{i}.jpg").write_bytes(jpeg_bytes(photo(discs=((60 + 20 * i, 50, 8), (200, 120, 12)))))
    if bad:
        data = jpeg_bytes()
        (folder / "cut.jpg").write_bytes(data[: len(data) // 2])
        (folder / "text.jpg").write_text("this is not a photo\n")
    return folder


def hidden(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


@pytest.fixture
def loads(monkeypatch, capsys):
    """The fake detector; records what stderr held when the model was loaded."""
    events: list[str] = []
    d = FakeDetector()

    def loader(path):
        events.append(capsys.readouterr().err)
        return d

    monkeypatch.setattr("acnekit.commands.assess.load_detector", loader)
    monkeypatch.setattr("acnekit.commands.detect.load_detector", loader)
    return events


# ---------------------------------------------------------------------------- pre-check
def test_check_photo_catches_truncated_jpeg_and_text(tmp_path):
    f = folder_of_photos(tmp_path)
    assert check_photo(f / "good_0.jpg") == (320, 240)
    with pytest.raises(ImageError, match="corrupt or truncated"):
        check_photo(f / "cut.jpg")  # the header alone decodes: only reading the data finds the cut
    with pytest.raises(ImageError, match="not an image"):
        check_photo(f / "text.jpg")


# ---------------------------------------------------------------------------- assess
def test_assess_keeps_going_names_every_bad_photo_before_loading(tmp_path, loads, capsys):
    f = folder_of_photos(tmp_path)
    out = tmp_path / "out"
    assert main(["assess", str(f), "--out", str(out)]) == 1
    before_load = loads[0]  # what was said before the model loaded: both bad photos, at once
    assert "cut.jpg" in before_load and "text.jpg" in before_load and "2 of 5 photos" in before_load
    err = capsys.readouterr().err
    assert "2 of 5 photos failed" in err and "cut.jpg" in err and "text.jpg" in err
    assert sorted(p.name for p in out.iterdir()) == ["good_0", "good_1", "good_2", "summary.csv"]
    for g in ("good_0", "good_1", "good_2"):
        assert sorted(p.name for p in (out / g).iterdir()) == ["annotated.jpg", "assessment.json", "report.html"]
    rows = {Path(r["file"]).name: r for r in csv.DictReader((out / "summary.csv").open())}
    assert {k: r["status"] for k, r in rows.items()} == {"cut.jpg": "failed", "good_0.jpg": "ok",
                                                        "good_1.jpg": "ok", "good_2.jpg": "ok", "text.jpg": "failed"}
    assert "truncated" in rows["cut.jpg"]["error"] and "not an image" in rows["text.jpg"]["error"]
    assert rows["good_0.jpg"]["count"] == "2" and rows["good_0.jpg"]["error"] == ""
    assert hidden(out) == []


def test_assess_json_lists_failures(tmp_path, loads, capsys):
    f = folder_of_photos(tmp_path, n_good=1)
    assert main(["assess", str(f), "--out", str(tmp_path / "out"), "--json"]) == 1
    items = json.loads(capsys.readouterr().out)
    assert [(Path(i["photo"]).name, i["status"]) for i in items] == [
        ("good_0.jpg", "ok"), ("cut.jpg", "failed"), ("text.jpg", "failed")]
    assert "not an image" in items[2]["error"]


def test_assess_fail_fast_writes_nothing(tmp_path, loads, capsys):
    f = folder_of_photos(tmp_path)
    out = tmp_path / "out"
    assert main(["assess", str(f), "--out", str(out), "--fail-fast"]) == 2
    err = capsys.readouterr().err
    assert "2 of 5 photos cannot be read" in err and "cut.jpg" in err and "text.jpg" in err
    assert not out.exists() and loads == []  # refused before the model loaded


def test_assess_failure_after_the_check_keeps_going(tmp_path, monkeypatch, capsys):
    """A photo that passes the pre-check but fails in the detector: the others are still written."""
    f = folder_of_photos(tmp_path, bad=False)

    class Picky(FakeDetector):
        def predict(self, rgb, score_thr=None):
            if self.calls == 1:
                self.calls += 1
                raise RuntimeError("boom")
            return super().predict(rgb, score_thr)

    monkeypatch.setattr("acnekit.commands.assess.load_detector", lambda path: Picky())
    out = tmp_path / "out"
    assert main(["assess", str(f), "--out", str(out)]) == 1
    assert "good_1.jpg: RuntimeError: boom" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["good_0", "good_2", "summary.csv"]
    monkeypatch.setattr("acnekit.commands.assess.load_detector", lambda path: Picky())
    out2 = tmp_path / "out2"
    assert main(["assess", str(f), "--out", str(out2), "--fail-fast"]) == 2
    assert not out2.exists()


def test_assess_none_succeeded_is_exit_2(tmp_path, loads, capsys):
    f = folder_of_photos(tmp_path, n_good=0)
    assert main(["assess", str(f), "--out", str(tmp_path / "out")]) == 2
    assert "2 of 2 photos cannot be read" in capsys.readouterr().err and loads == []
    assert not (tmp_path / "out").exists()


def test_assess_resume_skips_complete_outputs(tmp_path, monkeypatch, capsys):
    f = folder_of_photos(tmp_path, bad=False)
    d = FakeDetector()
    monkeypatch.setattr("acnekit.commands.assess.load_detector", lambda path: d)
    out = tmp_path / "out"
    assert main(["assess", str(f), "--out", str(out)]) == 0
    assert d.calls == 3
    (out / "good_1" / "report.html").unlink()  # incomplete: done again
    before = (out / "good_0" / "assessment.json").stat().st_mtime_ns
    assert main(["assess", str(f), "--out", str(out)]) == 2  # without --resume: refused
    assert "exists" in capsys.readouterr().err
    d.calls = 0
    assert main(["assess", str(f), "--out", str(out), "--resume"]) == 0
    assert d.calls == 1 and (out / "good_1" / "report.html").exists()
    assert (out / "good_0" / "assessment.json").stat().st_mtime_ns == before
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["status"] for r in rows] == ["done", "ok", "done"] and [r["count"] for r in rows] == ["2"] * 3


def test_assess_cleans_stale_temporary_folders_it_owns(tmp_path, loads, capsys):
    f = folder_of_photos(tmp_path, n_good=1, bad=False)
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = out / ".acnekit-assess.abc123.tmp"
    (stale / "good_0").mkdir(parents=True)
    (stale / ".acnekit-owner").write_text(f"{os.uname().nodename} {dead}\n")
    live = out / ".acnekit-assess.live.tmp"  # another run, still going: left alone
    live.mkdir()
    (live / ".acnekit-owner").write_text(f"{os.uname().nodename} {os.getpid()}\n")
    mine = out / ".notes"  # not acnekit's
    mine.mkdir()
    assert main(["assess", str(f), "--out", str(out)]) == 0
    assert "removed" in "".join(loads) + capsys.readouterr().err
    assert not stale.exists() and live.exists() and mine.exists()


def _slow_run(tmp_path: Path, argv: list[str], module: str, marker: Path) -> subprocess.Popen:
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(TESTS)!r})
        from _assess_fake import FakeDetector
        import acnekit.commands.{module} as m

        class Slow(FakeDetector):
            def predict(self, rgb, score_thr=None):
                open({str(marker)!r}, "a").write("x")
                time.sleep(0.4)
                return super().predict(rgb, score_thr)

        m.load_detector = lambda path: Slow()
        from acnekit.cli import main
        sys.exit(main({argv!r}))
    """)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_assess_signal_mid_batch_leaves_nothing_hidden(tmp_path, sig):
    f = folder_of_photos(tmp_path, n_good=8, bad=False)
    out = tmp_path / "out"
    marker = tmp_path / "started"
    proc = _slow_run(tmp_path, ["assess", str(f), "--out", str(out)], "assess", marker)
    deadline = time.time() + 60
    while (not marker.exists() or len(marker.read_text()) < 3) and time.time() < deadline:
        time.sleep(0.05)
    assert any(p.name.startswith(".acnekit-assess.") for p in out.iterdir())  # staging exists mid-batch
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert "terminated" in err and "Traceback" not in err
    assert hidden(out) == []
    done = sorted(p.name for p in out.iterdir())
    assert 1 <= len(done) < 8 and all(sorted(q.name for q in (out / n).iterdir()) ==
                                      ["annotated.jpg", "assessment.json", "report.html"] for n in done)


# ---------------------------------------------------------------------------- shard
def test_shard_partitions_deterministically():
    photos = [Path(f"d{i % 3}/p{i:02d}.jpg") for i in range(10)]
    parts = [apply_shard(photos, (i, 3)) for i in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(photos) and sum(map(len, parts)) == 10
    assert [len(p) for p in parts] == [4, 3, 3]
    assert apply_shard(list(reversed(photos)), (2, 3)) == list(reversed(parts[1]))  # order does not matter
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "1", "a/b"):
        with pytest.raises(Exception):
            parse_shard(bad)


def test_assess_shards_cover_the_batch(tmp_path, loads, capsys):
    f = folder_of_photos(tmp_path, n_good=5, bad=False)
    out = tmp_path / "out"
    for i in (1, 2):
        assert main(["assess", str(f), "--out", str(out), "--shard", f"{i}/2"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["good_0", "good_1", "good_2", "good_3", "good_4", "summary-1-of-2.csv", "summary-2-of-2.csv"]
    with pytest.raises(SystemExit) as exc:  # argparse's usage error
        main(["assess", str(f), "--out", str(out), "--shard", "3/2"])
    assert exc.value.code == 2


# ---------------------------------------------------------------------------- detect
def test_detect_keeps_going_failures_in_info(tmp_path, loads, capsys):
    from acnekit.dataset import load_dataset

    f = folder_of_photos(tmp_path)
    out = tmp_path / "pred.json"
    assert main(["detect", str(f), "--out", str(out), "--batch", "2"]) == 1
    assert "cut.jpg" in loads[0] and "text.jpg" in loads[0]  # named before the model loaded
    ds = load_dataset(out)
    assert [r.file_name for r in ds.images] == ["good_0.jpg", "good_1.jpg", "good_2.jpg"]
    assert [len(r.circles) for r in ds.images] == [2, 2, 2]
    assert {x["file_name"]: x["error"].split(" (")[0] for x in ds.info["failures"]} == {
        "cut.jpg": "corrupt or truncated image", "text.jpg": "not an image"}
    assert "incomplete" not in ds.info and ds.info["model"] == "fake-red-discs"


def test_detect_fail_fast_and_none_good_write_nothing(tmp_path, loads, capsys):
    f = folder_of_photos(tmp_path)
    out = tmp_path / "pred.json"
    assert main(["detect", str(f), "--out", str(out), "--fail-fast"]) == 2
    assert not out.exists() and loads == []
    (tmp_path / "x").mkdir()
    f2 = folder_of_photos(tmp_path / "x", n_good=0)
    assert main(["detect", str(f2), "--out", str(out)]) == 2
    assert not out.exists() and loads == []


def test_detect_resume_detects_only_what_is_missing(tmp_path, monkeypatch, capsys):
    from acnekit.dataset import load_dataset

    f = folder_of_photos(tmp_path, bad=False)
    d = FakeDetector()
    monkeypatch.setattr("acnekit.commands.detect.load_detector", lambda path: d)
    out = tmp_path / "pred.json"
    assert main(["detect", str(f / "good_0.jpg"), str(f / "good_2.jpg"), "--out", str(out)]) == 0
    first = load_dataset(out)
    d.calls = 0
    assert main(["detect", str(f), "--out", str(out), "--resume"]) == 0
    assert d.calls == 1
    ds = load_dataset(out)
    assert [r.file_name for r in ds.images] == ["good_0.jpg", "good_1.jpg", "good_2.jpg"]
    assert ds.images[2].circles == first.images[1].circles


def test_detect_interrupted_keeps_done_photos_marked_incomplete(tmp_path):
    from acnekit.dataset import load_dataset

    f = folder_of_photos(tmp_path, n_good=8, bad=False)
    out = tmp_path / "pred.json"
    marker = tmp_path / "started"
    proc = _slow_run(tmp_path, ["detect", str(f), "--out", str(out), "--batch", "1"], "detect", marker)
    deadline = time.time() + 60
    while (not marker.exists() or len(marker.read_text()) < 3) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    ds = load_dataset(out)
    assert 1 <= len(ds) < 8 and "interrupted" in ds.info["incomplete"]
    assert hidden(tmp_path) == []


# ---------------------------------------------------------------------------- draw
def _pred_for(folder: Path, names: list[str], out: Path) -> Path:
    images = [{"id": i, "file_name": n, "width": 320, "height": 240} for i, n in enumerate(names)]
    anns = [{"id": i, "image_id": i, "coordinates": [60.0, 50.0], "radius": 8.0, "class_name": "acne"}
            for i in range(len(names))]
    out.write_text(json.dumps({"images": images, "annotations": anns}))
    return out


def test_draw_keeps_going_fail_fast_and_resume(tmp_path, capsys):
    f = folder_of_photos(tmp_path)
    ann = _pred_for(f, ["good_0.jpg", "cut.jpg", "good_1.jpg", "text.jpg", "good_2.jpg"], tmp_path / "a.json")
    out = tmp_path / "ov"
    assert main(["draw", str(ann), "--images", str(f), "--out", str(tmp_path / "ff"), "--fail-fast"]) == 2
    assert not (tmp_path / "ff").exists()
    capsys.readouterr()
    assert main(["draw", str(ann), "--images", str(f), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "2 of 5 photos failed" in err and "cut.jpg" in err and "text.jpg" in err
    assert sorted(p.name for p in out.iterdir()) == ["good_0.jpg", "good_1.jpg", "good_2.jpg"]
    (out / "good_1.jpg").unlink()
    before = (out / "good_0.jpg").stat().st_mtime_ns
    assert main(["draw", str(ann), "--images", str(f), "--out", str(out), "--resume"]) == 1  # the bad ones again
    assert (out / "good_1.jpg").exists() and (out / "good_0.jpg").stat().st_mtime_ns == before
    assert "2 overlays already there" in capsys.readouterr().out
    assert hidden(out) == []


def test_assess_resume_with_an_older_json_still_summarises(tmp_path, loads, capsys):
    f = folder_of_photos(tmp_path, n_good=2, bad=False)
    out = tmp_path / "out"
    assert main(["assess", str(f), "--out", str(out)]) == 0
    j = out / "good_0" / "assessment.json"
    d = json.loads(j.read_text())
    d["summary"] = {"count": 2}  # an older or other summary shape
    j.write_text(json.dumps(d))
    assert main(["assess", str(f), "--out", str(out), "--resume"]) == 0
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["status"] for r in rows] == ["done", "done"] and rows[0]["count"] == "" and rows[1]["count"] == "2"
