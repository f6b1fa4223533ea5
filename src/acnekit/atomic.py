"""Atomic output: write to a temporary file beside the target, then rename over it.

Folders of outputs (`write_tree`, used by convert to YOLO/VOC, split and draw) follow one
rule: acnekit replaces only the files it writes itself. A new folder is built beside its
target and renamed into place; into an existing folder, every file is first written
complete into a hidden staging folder inside it and then moved into place, the files it
replaces are kept until all moves have succeeded (and put back when one fails), and
nothing else in the folder is touched. A ``.acnekit-files.json`` list of what was written
lets a later ``--force`` run remove the files that an earlier run wrote and this one no
longer does, and only those.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Iterable

from acnekit.errors import OutputError

MANIFEST = ".acnekit-files.json"  # what acnekit wrote into a folder (relative paths)
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def write_error(exc: OSError, path: str | Path, what: str = "cannot write") -> OutputError:
    """One-line `OutputError` for an `OSError` met while writing ``path``."""
    reason = exc.strerror or str(exc)
    if exc.errno in _FULL:
        reason = "no space left on the device" if exc.errno == errno.ENOSPC else "disk quota exceeded"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied (read-only folder?)" if exc.errno != errno.EROFS else "read-only file system"
    return OutputError(f"{what} ({reason})", path=path)


def check_output(path: str | Path, *, overwrite: bool = False, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse to write ``path`` when it is one of ``inputs`` or exists and ``overwrite`` is false."""
    path = Path(path)
    for src in inputs:
        if src is not None and Path(src).exists() and path.exists() and path.resolve() == Path(src).resolve():
            raise OutputError("refusing to overwrite an input file; choose another output path", path=path)
    if path.exists() and not overwrite:
        raise OutputError("output exists; pass --force to replace it", path=path)
    if path.exists() and path.is_dir():
        raise OutputError("output path is a folder", path=path)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + ``os.replace``). A write error
    (read-only folder, full disk) is an `OutputError` and leaves no file behind."""
    path = check_output(path, overwrite=overwrite)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError("output folder does not exist", path=parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise write_error(exc, parent, "cannot write in folder") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise write_error(exc, path) from None
        raise
    return path


def atomic_write_text(path: str | Path, text: str, *, overwrite: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def stage_folder(parent: str | Path, label: str = "acnekit", *, prefix: str | None = None,
                 suffix: str = ".tmp") -> Path:
    """A fresh hidden folder ``.<label>.XXXX.tmp`` (or ``<prefix>XXXX<suffix>``) in ``parent``
    (same file system, so moves out of it are atomic) with ordinary permissions."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=prefix or f".{label}.", suffix=suffix, dir=parent))
    except OSError as exc:
        raise write_error(exc, parent, "cannot write in folder") from None
    folder.chmod(0o777 & ~_umask())  # mkdtemp makes it private
    return folder


def _safe_rel(rel: str) -> bool:
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and p.parts[0] != "."


def move_into(stage: Path, out: Path, rels: Iterable[str], *, remove: Iterable[str] = ()) -> None:
    """Move ``stage/rel`` to ``out/rel`` for each of ``rels`` and delete ``out/rel`` for each
    of ``remove``, as one step: replaced and removed files wait in ``stage`` until every move
    has succeeded; if one fails they are all put back and the error is an `OutputError`.
    Folders are created as needed (and removed again on failure)."""
    backup = stage / ".replaced"
    placed: list[Path] = []
    saved: list[tuple[Path, Path]] = []  # (backup copy, original place)
    made: list[Path] = []
    try:
        for rel in rels:
            target = out / rel
            for d in reversed(target.parents):
                if d != out and _is_inside(d, out) and not d.exists():
                    d.mkdir()
                    made.append(d)
            if target.exists() or target.is_symlink():
                keep = backup / rel
                keep.parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, keep)
                saved.append((keep, target))
            os.replace(stage / rel, target)
            placed.append(target)
        for rel in remove:
            target = out / rel
            keep = backup / rel
            keep.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, keep)
            saved.append((keep, target))
            for d in target.parents:  # folders left empty by the removal go too
                if d == out or not _is_inside(d, out):
                    break
                try:
                    d.rmdir()
                except OSError:
                    break
    except BaseException as exc:
        for t in placed:
            try:
                t.unlink()
            except OSError:
                pass
        for keep, target in reversed(saved):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(keep, target)
            except OSError:
                pass
        for d in reversed(made):
            try:
                d.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise write_error(exc, out, "cannot move outputs into place") from None
        raise


def _is_inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def read_manifest(out: Path) -> dict[str, list[str]]:
    """What earlier acnekit runs recorded in ``out``: output kind -> relative paths (unsafe
    entries dropped; an unreadable list counts as empty)."""
    try:
        outputs = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["outputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(outputs, dict):
        return {}
    return {str(k): [f for f in v if isinstance(f, str) and _safe_rel(f)]
            for k, v in outputs.items() if isinstance(v, list)}


def _manifest_bytes(outputs: dict[str, list[str]]) -> bytes:
    return (json.dumps({"written_by": "acnekit",
                        "note": "the files acnekit wrote here, by command; --force replaces only these",
                        "outputs": {k: sorted(v) for k, v in sorted(outputs.items())}}, indent=1) + "\n").encode()


def _check_inputs(out: Path, rels: list[str], inputs: Iterable[str | Path | None]) -> None:
    """Refuse outputs that are, or lie inside, an input (and an output folder inside an input folder)."""
    target = out.resolve()
    for src in inputs:
        if src is None:
            continue
        s = Path(src).resolve()
        if s.is_dir():
            hit = _is_inside(target, s) or any(_is_inside(target / rel, s) for rel in rels)
        else:
            hit = any(target / rel == s for rel in rels)
        if hit:
            raise OutputError(f"refusing to write over or inside the input {str(src)!r}; choose another output",
                              path=out)


def write_tree(out: str | Path, files: dict[str, bytes], *, overwrite: bool = False,
               inputs: Iterable[str | Path | None] = (), claims: Iterable[str] = (), reader: str = "",
               kind: str | None = None) -> Path:
    """Write ``files`` (relative POSIX path -> bytes) under the folder ``out``, replacing
    only those files (see the module docstring). Without ``overwrite`` an existing file is
    refused. ``claims``: glob patterns (relative) of files that a reader of the folder
    (``reader``, e.g. "a YOLO reader") takes as part of this output; such a file that acnekit
    did not write would mix into the result, so it is refused, never deleted. Never writes
    over or inside one of ``inputs``. ``kind`` (e.g. "convert yolo") names this output in
    the folder's list of acnekit files; without it no list is kept (and nothing is removed)."""
    out = Path(out)
    rels = list(files)
    bad = [r for r in rels if not _safe_rel(r) or r == MANIFEST]
    if bad:
        raise ValueError(f"bad relative output paths: {bad[:3]}")
    _check_inputs(out, rels, inputs)
    if out.exists() and not out.is_dir():
        raise OutputError("output exists and is not a folder", path=out)
    recorded = read_manifest(out) if kind and out.is_dir() else {}
    old = set(recorded.get(kind, [])) if kind else set()
    all_rels = rels + ([MANIFEST] if kind else [])
    data = {**files, **({MANIFEST: _manifest_bytes({**recorded, kind: rels})} if kind else {})}
    if not out.exists():
        parent = out.parent
        if not parent.is_dir():
            raise OutputError("the output's parent folder does not exist", path=parent)
        tmp = stage_folder(parent, out.name)
        try:
            _write_all(tmp, data)
            os.rename(tmp, out)
        except OSError as exc:
            raise write_error(exc, out) from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return out
    new = set(rels)
    for rel in rels:
        t = out / rel
        if t.is_dir() and not t.is_symlink():
            raise OutputError("a folder is in the way of an output file", path=t)
        for d in t.parents:
            if d == out:
                break
            if d.exists() and not d.is_dir():
                raise OutputError("a file is in the way of an output folder", path=d)
    stale = sorted(r for r in old - new if (out / r).is_file() and r != MANIFEST)
    if not overwrite:  # neither replaced nor removed without --force
        existing = sorted(r for r in rels if (out / r).exists()) + stale
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise OutputError(f"output exists{more}; pass --force to replace it", path=out / existing[0])
    foreign = sorted({p.relative_to(out).as_posix() for pat in claims for p in out.glob(pat) if p.is_file()}
                     - new - old - {MANIFEST})
    if foreign:
        raise OutputError(
            f"{_n(len(foreign), 'file')} here {'was' if len(foreign) == 1 else 'were'} not written by acnekit and "
            f"{reader or 'a reader'} would take {'it' if len(foreign) == 1 else 'them'} "
            f"as part of this output (first: {', '.join(foreign[:3])}); move them away or choose another output "
            "folder (acnekit never deletes them)", path=out)
    stage = stage_folder(out, "acnekit-stage")
    try:
        try:
            _write_all(stage, data)
        except OSError as exc:
            raise write_error(exc, out) from None
        move_into(stage, out, all_rels, remove=stale)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


def _write_all(folder: Path, files: dict[str, bytes]) -> None:
    for rel, blob in files.items():
        dest = folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(blob)
