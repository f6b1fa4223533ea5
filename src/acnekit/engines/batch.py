"""What `assess`, `detect` and `draw` share around an engine: options, the input pre-check,
``--shard``, the progress bar, the failure list and the exit code.

Exit codes of a batch: 0 every photo succeeded (or was already done, ``--resume``); 1 some
photos failed and the others were written; 2 a user error, or no photo succeeded.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from pathlib import Path
from typing import Sequence

from acnekit.engines.core import describe
from acnekit.errors import AcneKitError, ImageError


def add_batch_args(p: argparse.ArgumentParser, *, engines: bool = True) -> None:
    g = p.add_argument_group("batches")
    g.add_argument("--fail-fast", action="store_true",
                   help="all or nothing: stop at the first bad photo and write nothing (default: keep going, "
                        "write every photo that works, list the others and exit 1)")
    g.add_argument("--resume", action="store_true", help="skip photos whose outputs are already complete")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    if not engines:
        return
    g.add_argument("--shard", metavar="I/N", type=parse_shard,
                   help="do only part I of N (1 <= I <= N) of the photos: a deterministic split by file name, "
                        "so N machines given the same photos share them without overlap")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="run photos here (default) or on a Ray cluster through Ray Data (needs acnekit[ray])")
    g.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to join (e.g. 10.0.0.5:6379 or auto); default: start a local Ray")
    g.add_argument("--ray-actors", type=int, metavar="N",
                   help="model copies (Ray actors); default: one per 2 CPUs (GPUs with --ray-gpus) of the cluster")
    g.add_argument("--ray-cpus", type=float, metavar="C", help="CPUs per actor (default 1, 0.5 on a cluster of 2 CPUs)")
    g.add_argument("--ray-gpus", type=float, default=0.0, metavar="G",
                   help="GPUs per actor (e.g. 1 or 0.5); the model then runs on the actor's GPU")


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N (e.g. 2/4), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def apply_shard(photos: Sequence[Path], shard: tuple[int, int] | None) -> list[Path]:
    """Part I of N: photos sorted by file name (then full path), every N-th from the I-th.
    Depends only on the set of photos, not on the order or the folders they were given in."""
    if shard is None:
        return list(photos)
    i, n = shard
    ordered = sorted(photos, key=lambda p: (p.name, str(p)))
    mine = set(ordered[i - 1::n])
    return [p for p in photos if p in mine]


def ray_options(args) -> dict:
    for name in ("ray_actors",):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            raise AcneKitError(f"must be at least 1, got {v}", where="--" + name.replace("_", "-"))
    for name in ("ray_cpus", "ray_gpus"):
        v = getattr(args, name, None)
        if v is not None and v < 0:
            raise AcneKitError(f"must be >= 0, got {v}", where="--" + name.replace("_", "-"))
    if getattr(args, "engine", "local") != "ray":
        if getattr(args, "ray_address", None):
            raise AcneKitError("only with --engine ray", where="--ray-address")
        return {}
    return {"address": args.ray_address, "actors": args.ray_actors, "cpus": args.ray_cpus,
            "gpus": args.ray_gpus, "progress": False}


# ---------------------------------------------------------------------------- pre-check
def check_photo(path: str | Path, *, max_pixels: int | None = None, min_side: int = 1) -> tuple[int, int]:
    """Cheap checks of one photo before any model loads: it exists and is readable, its header
    decodes, its size is within the limits, and its data is complete (PNG and others: Pillow's
    verify; JPEG: a decode at 1/8 scale, which reads the whole stream). Raises `ImageError`."""
    from PIL import Image

    from acnekit.imageio import image_size

    w, h = image_size(path, max_pixels=max_pixels)
    if w < min_side or h < min_side:
        raise ImageError(f"image is {w}x{h} px, smaller than the minimum {min_side}x{min_side}", path=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                if img.format == "JPEG":
                    img.draft("RGB", (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
                    img.load()
                else:
                    img.verify()
    except ImageError:
        raise
    except PermissionError:
        raise ImageError("cannot read (permission denied)", path=path) from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error ...
        raise ImageError(f"corrupt or truncated image ({describe(exc)})", path=path) from None
    return w, h


def precheck(photos: Sequence[Path], *, max_pixels: int | None = None,
             min_side: int = 1) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split ``photos`` into those that pass `check_photo` and (photo, reason) for the others."""
    good, bad = [], []
    for p in photos:
        try:
            check_photo(p, max_pixels=max_pixels, min_side=min_side)
            good.append(p)
        except AcneKitError as exc:
            bad.append((p, describe(exc, str(p))))
    return good, bad


def failure_lines(failures: Sequence[tuple[Path | str, str]]) -> list[str]:
    return [f"  {p}: {reason}" for p, reason in failures]


def refuse_bad(command: str, bad: Sequence[tuple[Path, str]], total: int) -> None:
    """``--fail-fast`` with bad inputs: one error naming every bad photo (one line when one)."""
    if len(bad) == 1:
        p, reason = bad[0]
        raise ImageError(reason, path=p)
    raise AcneKitError(f"{len(bad)} of {total} photos cannot be read (nothing written):\n"
                       + "\n".join(failure_lines(bad)))


def warn_bad(command: str, bad: Sequence[tuple[Path, str]], total: int) -> None:
    if bad:
        print(f"acnekit {command}: {len(bad)} of {total} photos cannot be read and are skipped:", file=sys.stderr)
        print("\n".join(failure_lines(bad)), file=sys.stderr)


def finish(command: str, n_ok: int, failures: Sequence[tuple[Path | str, str]], *, skipped: int = 0) -> int:
    """Print the failure list (stderr) and return the exit code."""
    if failures:
        print(f"acnekit {command}: {len(failures)} of {n_ok + len(failures) + skipped} photos failed:",
              file=sys.stderr)
        print("\n".join(failure_lines(failures)), file=sys.stderr)
        return 1 if n_ok + skipped > 0 else 2
    return 0


class Progress:
    """A tqdm bar on stderr with ETA and the failure count (off for one photo, with
    ``--no-progress``, or when stderr is not a terminal)."""

    def __init__(self, total: int, desc: str, *, enabled: bool = True):
        from tqdm import tqdm

        self.failed = 0
        self.bar = tqdm(total=total, desc=desc, unit="photo", file=sys.stderr, leave=False,
                        disable=True if (total < 2 or not enabled) else None)

    def update(self, ok: bool) -> None:
        if not ok:
            self.failed += 1
            self.bar.set_postfix_str(f"{self.failed} failed", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def settle(outcome, progress: Progress, failures: dict[Path, str], fail_fast: bool) -> bool:
    """Count one engine outcome on the bar. A failure is recorded in ``failures`` (or raised,
    with ``--fail-fast``); True when the photo succeeded and its result is to be used."""
    photo = Path(outcome.path)
    progress.update(outcome.ok)
    if outcome.ok:
        return True
    if fail_fast:
        raise ImageError(outcome.error, path=photo)
    failures[photo] = outcome.error
    return False
