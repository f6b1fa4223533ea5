"""`make assess` (issue 17 item 9): no --force unless FORCE=1, a PHOTO with spaces, ARGS passed on,
and its own output folder per photo folder (so no stale summary.csv from another run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def run_make(tmp_path: Path, *assignments: str) -> tuple[int, list[list[str]], str]:
    """`make assess` with a stand-in acnekit that records its arguments (BIN points at it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "acnekit"
    log = tmp_path / "calls.jsonl"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                    "sys.exit(2 if '--fail' in sys.argv else 0)\n")
    fake.chmod(0o755)
    os.utime(fake)  # newer than pyproject.toml: the setup step is up to date
    p = subprocess.run(["make", "-s", "-C", str(ROOT), "assess", f"BIN={bin_dir}", *assignments],
                       capture_output=True, text=True, timeout=60)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return p.returncode, calls, p.stderr


def test_folder_with_spaces_gets_its_own_output_and_no_force(tmp_path):
    photos = tmp_path / "my photos"
    photos.mkdir()
    rc, calls, _ = run_make(tmp_path, f"PHOTO={photos}")
    assert rc == 0 and calls == [["assess", str(photos), "--out", "assessments/my photos"]]


def test_photo_with_spaces_force_and_args(tmp_path):
    photo = tmp_path / "face one.jpg"
    photo.write_bytes(b"x")
    rc, calls, _ = run_make(tmp_path, f"PHOTO={photo}", "FORCE=1", "ARGS=--px-per-mm 12")
    assert rc == 0 and calls == [["assess", str(photo), "--out", "assessments", "--force", "--px-per-mm", "12"]]


def test_failure_keeps_the_exit_code_and_names_force(tmp_path):
    rc, calls, err = run_make(tmp_path, f"PHOTO={tmp_path}", f"OUT={tmp_path / 'o'}", "ARGS=--fail")
    assert rc != 0 and calls[0][:4] == ["assess", str(tmp_path), "--out", str(tmp_path / "o")]
    assert "FORCE=1" in err
