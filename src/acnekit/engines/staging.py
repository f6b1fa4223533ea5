"""Hidden temporary folders that never outlive their run, and signals that let them be removed.

`signals_as_exceptions` turns SIGTERM and SIGHUP (``timeout``, ``kill``, a closed terminal)
into a `Terminated` exception, like Ctrl-C's KeyboardInterrupt, so every ``finally`` block
runs and removes what it staged. A folder made by `owned_stage` records its owner (host and
process id); a later run removes such folders whose owner is gone (`clean_stale`), for the
exits nothing can catch (SIGKILL, power loss).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

from acnekit.atomic import stage_folder

OWNER_FILE = ".acnekit-owner"
UNOWNED_GRACE_S = 60.0  # an unmarked folder (older acnekit) younger than this may still be in use


class Terminated(BaseException):
    """The process got SIGTERM or SIGHUP (a BaseException, so ``except Exception`` lets it pass)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _raise(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def signals_as_exceptions():
    """Within the block, SIGTERM and SIGHUP raise `Terminated` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            old[sig] = signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def mark_owner(folder: Path) -> Path:
    """Record this process (``host pid``) as the owner of a temporary folder, for `clean_stale`."""
    try:
        (folder / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    except OSError:
        pass
    return folder


def owned_stage(parent: Path, label: str = "acnekit", *, prefix: str | None = None, suffix: str = ".tmp") -> Path:
    """`acnekit.atomic.stage_folder` (``.<label>.XXXX.tmp``, or ``<prefix>XXXX<suffix>``) plus an
    owner mark (`mark_owner`), so `clean_stale` can tell a dead run's folder from a live one's."""
    return mark_owner(stage_folder(parent, label, prefix=prefix, suffix=suffix))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(folder: Path) -> bool:
    try:
        host, pid = (folder / OWNER_FILE).read_text().split()
    except (OSError, ValueError):
        try:
            return time.time() - folder.stat().st_mtime > UNOWNED_GRACE_S
        except OSError:
            return False
    return host == socket.gethostname() and not _alive(int(pid))


def clean_stale(parent: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Remove hidden temporary folders matching ``patterns`` in ``parent`` that an interrupted
    run left (owner gone, or unmarked and older than a minute); returns those removed.
    Folders of a live run, or of another machine's run, are left alone."""
    removed = []
    if not parent.is_dir():
        return removed
    for pattern in patterns:
        for folder in sorted(parent.glob(pattern)):
            if folder.is_dir() and not folder.is_symlink() and _stale(folder):
                shutil.rmtree(folder, ignore_errors=True)
                if not folder.exists():
                    removed.append(folder)
    return removed
