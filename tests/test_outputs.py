"""Every command that writes: `--force` replaces only what acnekit writes (issue 17 item 1), and
a write error (read-only folder, full disk) is one line, exit 2, with no partial output (item 7)."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from acnekit.atomic import MANIFEST, move_into, stage_folder, write_tree
from acnekit.cli import main
from acnekit.errors import OutputError

SMALL = {"images": [{"id": 0, "file_name": "levle0_1.png", "width": 64, "height": 48},
                    {"id": 1, "file_name": "levle1_2.png", "width": 64, "height": 48},
                    {"id": 2, "file_name": "levle0_3.png", "width": 64, "height": 48},
                    {"id": 3, "file_name": "levle1_4.png", "width": 64, "height": 48}],
         "annotations": [{"id": 0, "image_id": 0, "coordinates": [10, 20], "radius": 5, "class_name": "acne"},
                         {"id": 1, "image_id": 1, "coordinates": [30, 20], "radius": 3, "class_name": "acne"}]}


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def work(tmp_path):
    (tmp_path / "ann.json").write_text(json.dumps(SMALL))
    photos = tmp_path / "photos"
    photos.mkdir()
    for im in SMALL["images"]:
        Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(photos / im["file_name"])
    return tmp_path


def user_files(out: Path) -> dict[str, bytes]:
    """A folder the user owns: photos beside where acnekit writes, and a note."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "images" / "levle0_1.jpg").write_bytes(b"the user's photo")
    (out / "notes.txt").write_text("mine\n")
    return {"images/levle0_1.jpg": b"the user's photo", "notes.txt": b"mine\n"}


# each: (command line with {w} = work folder and {o} = output folder, output is a folder?)
COMMANDS = {
    "convert-yolo": (["convert", "{w}/ann.json", "--to", "yolo", "--out", "{o}"], True),
    "convert-voc": (["convert", "{w}/ann.json", "--to", "voc", "--out", "{o}"], True),
    "convert-coco": (["convert", "{w}/ann.json", "--to", "coco", "--out", "{o}/c.json"], False),
    "convert-csv": (["convert", "{w}/ann.json", "--to", "csv", "--out", "{o}/c.csv"], False),
    "validate-fix": (["validate", "{w}/ann.json", "--fix", "{o}/fixed.json"], False),
    "split": (["split", "{w}/ann.json", "--out", "{o}", "--val-fraction", "0.5"], True),
    "draw": (["draw", "{w}/ann.json", "--images", "{w}/photos", "--out", "{o}", "--format", "png"], True),
}


def argv(name: str, work: Path, out: Path) -> list[str]:
    return [a.format(w=work, o=out) for a in COMMANDS[name][0]]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_force_keeps_unrelated_files(work, name, capsys):
    out = work / "DS"
    mine = user_files(out)
    assert main(argv(name, work, out)) == 0  # nothing of acnekit's there yet: no --force needed
    first = tree(out)
    assert main(argv(name, work, out)) == 2  # now its outputs exist
    assert "pass --force to replace it" in capsys.readouterr().err
    assert main([*argv(name, work, out), "--force"]) == 0
    after = tree(out)
    assert {k: after[k] for k in mine} == mine  # the user's files are untouched
    assert sorted(after) == sorted(first)  # the same files, no staging folder left
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != MANIFEST]


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_convert_into_current_folder(work, fmt, monkeypatch, capsys):
    here = work / "here"
    mine = user_files(here)
    monkeypatch.chdir(here)
    assert main(["convert", str(work / "ann.json"), "--to", fmt, "--out", "."]) == 0
    assert main(["convert", str(work / "ann.json"), "--to", fmt, "--out", ".", "--force"]) == 0
    assert {k: v for k, v in tree(here).items() if k in mine} == mine
    assert "Traceback" not in capsys.readouterr().err


def test_force_removes_only_its_own_stale_files(work, capsys):
    out = work / "DS"
    mine = user_files(out)
    assert main(["convert", str(work / "ann.json"), "--to", "yolo", "--out", str(out)]) == 0
    assert main(["convert", str(work / "ann.json"), "--to", "voc", "--out", str(out)]) == 0
    assert len(list((out / "labels").glob("*.txt"))) == 4
    fewer = {**SMALL, "images": SMALL["images"][:2]}
    (work / "fewer.json").write_text(json.dumps(fewer))
    assert main(["convert", str(work / "fewer.json"), "--to", "yolo", "--out", str(out), "--force"]) == 0
    # the two labels of the earlier conversion that this one no longer writes are gone ...
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["levle0_1.txt", "levle1_2.txt"]
    # ... while the VOC files (another conversion) and the user's files stay
    assert len(list(out.glob("*.xml"))) == 4
    assert {k: v for k, v in tree(out).items() if k in mine} == mine
    listed = json.loads((out / MANIFEST).read_text())["outputs"]
    assert sorted(listed) == ["convert voc", "convert yolo"] and len(listed["convert yolo"]) == 4


def test_foreign_files_a_reader_would_mix_in_are_refused_not_deleted(work, capsys):
    out = work / "DS"
    (out / "labels").mkdir(parents=True)
    (out / "labels" / "someone_else.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert main(["convert", str(work / "ann.json"), "--to", "yolo", "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert "labels/someone_else.txt" in err and "not written by acnekit" in err
    assert tree(out) == {"labels/someone_else.txt": b"0 0.5 0.5 0.1 0.1\n"}


def test_input_inside_the_output_folder_is_fine_but_never_overwritten(work, capsys):
    out = work / "DS"
    out.mkdir()
    (out / "ann.json").write_text(json.dumps(SMALL))
    assert main(["convert", str(out / "ann.json"), "--to", "yolo", "--out", str(out), "--force"]) == 0
    assert json.loads((out / "ann.json").read_text()) == SMALL
    assert main(["convert", str(out), "--to", "yolo", "--out", str(out), "--force",
                 "--reference", str(out / "ann.json")]) == 2
    assert "refusing to write over or inside the input" in capsys.readouterr().err


def test_assess_force_keeps_unrelated_files(tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent))
    from _assess_fake import FakeDetector, photo

    monkeypatch.setattr("acnekit.commands.assess.load_detector", lambda path: FakeDetector())
    src = tmp_path / "face.png"
    Image.fromarray(photo()).save(src)
    out = tmp_path / "out"
    assert main(["assess", str(src), "--out", str(out)]) == 0
    (out / "face" / "my notes.txt").write_text("mine\n")
    (out / "mine").mkdir()
    assert main(["assess", str(src), "--out", str(out), "--force"]) == 0
    assert (out / "face" / "my notes.txt").read_text() == "mine\n" and (out / "mine").is_dir()


def test_export_force_keeps_unrelated_files(tmp_path, monkeypatch):
    import acnekit.detector.export as E
    from acnekit.detector.infer import Detector

    class Fake:
        card = {"name": "fake"}

    monkeypatch.setattr(Detector, "load", classmethod(lambda cls, path=None: Fake()))
    monkeypatch.setattr(E, "onnx_bytes", lambda det, size=640: b"onnx")
    (tmp_path / "keep.txt").write_text("mine\n")
    out = tmp_path / "m.onnx"
    assert main(["export", "--out", str(out)]) == 0
    assert main(["export", "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "m.json", "m.onnx"]


# ------------------------------------------------------------------ write errors (item 7)
def _fail(err: int):
    def boom(*a, **k):
        raise OSError(err, os.strerror(err))
    return boom


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("how", ["full disk on rename", "read-only folder", "full disk on write"])
def test_write_error_is_one_line_and_leaves_nothing(work, name, how, monkeypatch, capsys):
    out = work / "DS"
    mine = user_files(out)
    if COMMANDS[name][1] and name != "draw":
        assert main(argv(name, work, out)) == 0  # an earlier output, to be replaced
    before = tree(out)
    if how == "full disk on rename":
        monkeypatch.setattr(os, "replace", _fail(errno.ENOSPC))
        monkeypatch.setattr(os, "rename", _fail(errno.ENOSPC))
    elif how == "read-only folder":
        import tempfile
        monkeypatch.setattr(tempfile, "mkstemp", _fail(errno.EACCES))
        monkeypatch.setattr(tempfile, "mkdtemp", _fail(errno.EACCES))
    else:
        real = os.fdopen

        class Full:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *a):
                self.fh.close()

            def write(self, data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: Full(real(fd, *a, **k)))
        monkeypatch.setattr(Path, "write_bytes", _fail(errno.ENOSPC))
    rc = main([*argv(name, work, out), "--force"])
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert ("no space left" in err) if how != "read-only folder" else ("permission denied" in err)
    assert tree(out) == before and {k: before[k] for k in mine} == mine
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != MANIFEST]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_real_read_only_folder(work, name, capsys):
    out = work / "DS"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main([*argv(name, work, out), "--force"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_move_into_puts_everything_back_when_a_move_fails(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old a")
    (out / "stale.txt").write_text("old stale")
    stage = stage_folder(out)
    (stage / "a.txt").write_text("new a")
    (stage / "sub").mkdir()
    (stage / "sub" / "b.txt").write_text("new b")
    real, calls = os.replace, []

    def third_fails(src, dst):
        calls.append(dst)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", third_fails)
    with pytest.raises(OutputError, match="no space left"):
        move_into(stage, out, ["a.txt", "sub/b.txt"], remove=["stale.txt"])
    monkeypatch.undo()
    assert (out / "a.txt").read_text() == "old a" and (out / "stale.txt").read_text() == "old stale"
    assert not (out / "sub").exists()


def test_write_tree_refuses_a_folder_in_the_way(tmp_path):
    (tmp_path / "data.yaml").mkdir()
    with pytest.raises(OutputError, match="folder is in the way"):
        write_tree(tmp_path, {"data.yaml": b"x"}, overwrite=True)
    (tmp_path / "labels").write_text("a file")
    with pytest.raises(OutputError, match="file is in the way"):
        write_tree(tmp_path, {"labels/a.txt": b"x"}, overwrite=True)


def test_export_write_error_leaves_neither_file(tmp_path, monkeypatch, capsys):
    import acnekit.detector.export as E
    from acnekit.detector.infer import Detector

    class Fake:
        card = {"name": "fake"}

    monkeypatch.setattr(Detector, "load", classmethod(lambda cls, path=None: Fake()))
    monkeypatch.setattr(E, "onnx_bytes", lambda det, size=640: b"onnx")
    real, calls = os.replace, []

    def second_fails(src, dst):  # the .onnx lands, then the card cannot
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", second_fails)
    assert main(["export", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no space left" in err
    assert list(tmp_path.iterdir()) == []


def test_train_never_overwrites_an_earlier_run_by_accident(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.ckpt").write_bytes(b"hours of training")
    (run / "notes.txt").write_text("mine\n")
    assert main(["train", "--out", str(run), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "earlier training run (last.ckpt)" in err and "--resume" in err and "--force" in err
    assert (run / "last.ckpt").read_bytes() == b"hours of training"


def test_an_earlier_conversions_files_are_not_removed_without_force(work, capsys):
    out = work / "DS"
    assert main(["convert", str(work / "ann.json"), "--to", "voc", "--out", str(out)]) == 0
    other = {"images": [{"id": 0, "file_name": "zz.png", "width": 9, "height": 9}], "annotations": []}
    (work / "other.json").write_text(json.dumps(other))
    before = tree(out)
    assert main(["convert", str(work / "other.json"), "--to", "voc", "--out", str(out)]) == 2
    assert "pass --force" in capsys.readouterr().err and tree(out) == before
    assert main(["convert", str(work / "other.json"), "--to", "voc", "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in out.glob("*.xml")) == ["zz.xml"]
