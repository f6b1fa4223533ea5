"""CLI rough edges of issue 17 item 9: --debug anywhere, no internal names in messages."""

from __future__ import annotations

import errno
import json

import pytest

from acnekit.cli import main


def test_debug_after_the_subcommand(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    from acnekit.errors import DatasetError

    assert main(["stats", str(bad)]) == 2  # one line
    with pytest.raises(DatasetError):  # the traceback, wherever --debug stands
        main(["stats", str(bad), "--debug"])
    with pytest.raises(DatasetError):
        main(["--debug", "stats", str(bad)])


def test_force_message_names_no_internal_parameter(tmp_path, capsys):
    src = tmp_path / "a.json"
    src.write_text(json.dumps({"images": [{"id": 0, "file_name": "a.jpg", "width": 10, "height": 10}],
                               "annotations": []}))
    out = tmp_path / "b.json"
    out.write_text("{}")
    for argv in (["convert", str(src), "--to", "coco", "--out", str(out)],
                 ["validate", str(src), "--fix", str(out)],
                 ["convert", str(src), "--to", "yolo", "--out", str(tmp_path / "y")],
                 ["convert", str(src), "--to", "yolo", "--out", str(tmp_path / "y")]):
        main(argv)
    err = capsys.readouterr().err
    assert err.count("pass --force to replace it") == 3 and "overwrite=" not in err


def test_pixel_limit_message_names_only_real_options(tmp_path, monkeypatch):
    from PIL import Image

    from acnekit.errors import ImageError
    from acnekit.imageio import image_size

    p = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(p)
    with pytest.raises(ImageError) as exc:
        image_size(p, max_pixels=10)
    assert "$ACNEKIT_MAX_PIXELS" in str(exc.value) and "--max-pixels in assess and serve" in str(exc.value)


def test_a_refused_write_anywhere_is_one_line(tmp_path, monkeypatch, capsys):
    import acnekit.commands.stats as stats_cmd

    def boom(args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(stats_cmd, "run", boom)
    assert main(["stats", str(tmp_path / "whatever.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"acnekit stats: error: {tmp_path / 'x'}: No space left on device"
