"""The `acnekit` command: exit codes 0/1/2, one-line errors, --debug, --help everywhere."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import acnekit.commands
from acnekit.cli import build_parser, main

SUBCOMMANDS = sorted(m.name for m in pkgutil.iter_modules(acnekit.commands.__path__) if not m.name.startswith("_"))


def good_file(tmp_path, coincident: bool = False):
    anns = [{"id": 0, "image_id": 0, "coordinates": [10, 10], "radius": 3}]
    if coincident:
        anns.append({"id": 1, "image_id": 0, "coordinates": [10.5, 10], "radius": 3.2})
    obj = {"images": [{"id": 0, "file_name": "levle0_1.jpg", "width": 50, "height": 50}], "annotations": anns}
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(obj))
    return str(path)


def test_every_command_module_registers_a_subcommand():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(SUBCOMMANDS) <= set(sub.choices)
    assert {"validate", "stats", "audit", "split"} <= set(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_on_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: acnekit " + command) or f"acnekit {command}" in out


def test_top_level_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in ("validate", "stats", "audit", "split"))


def test_exit_0_on_success(tmp_path, capsys):
    assert main(["validate", good_file(tmp_path)]) == 0
    assert "valid: 1 images, 1 lesions" in capsys.readouterr().out


def test_exit_1_when_the_checked_thing_has_problems(tmp_path, capsys):
    assert main(["audit", good_file(tmp_path, coincident=True)]) == 1
    assert "coincident duplicate circles  FOUND" in capsys.readouterr().out


@pytest.mark.parametrize("argv,words", [
    (["validate", "{tmp}/absent.json"], "file not found"),  # missing input
    (["stats", "{tmp}"], "is a folder"),  # a folder instead of a file
    (["audit", "{good}", "--images", "{tmp}/nope"], "folder not found"),  # bad --images
    (["split", "{good}", "--out", "{tmp}/o", "--folds", "5"], "cannot fill 5 parts"),  # too few images
    (["validate", "{good}", "--fix", "{good}"], "input"),  # would overwrite the input
])
def test_exit_2_user_error_is_one_line(tmp_path, capsys, argv, words):
    good = good_file(tmp_path)
    argv = [a.format(tmp=tmp_path, good=good) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert words in err and err.startswith(f"acnekit {argv[0]}: error: ")
    assert "Traceback" not in err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["stats"])  # missing FILE
    assert exc.value.code == 2


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: acnekit" in capsys.readouterr().out


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acnekit", *args], capture_output=True, text=True, timeout=120)


def test_process_no_traceback_without_debug_and_traceback_with_it(tmp_path):
    plain = run("validate", str(tmp_path / "absent.json"))
    assert plain.returncode == 2 and plain.stdout == ""
    assert plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr and "absent.json" in plain.stderr
    debug = run("--debug", "validate", str(tmp_path / "absent.json"))
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "DatasetError" in debug.stderr and "absent.json" in debug.stderr


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("acnekit ")
