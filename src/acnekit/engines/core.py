"""The per-photo function every engine calls, and the engine switch.

A *job* is a small picklable object with three methods:

- ``load()`` -> state: the model, once per worker (process or Ray actor);
- ``prepare(path)`` -> item: per photo, no model (reading; raises for a bad photo);
- ``infer(state, items)`` -> values: one value per item, picklable (the photo's result).

`process_chunk` runs them on a chunk of paths and turns every failure into an `Outcome`
with a reason, so one bad photo never stops the others. Chunks are fixed by the caller
(not by the engine), so each engine passes the network the very same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from acnekit.errors import AcneKitError


@dataclass
class Outcome:
    """One photo's result: ``value`` when ``ok``, else ``error`` (the reason, without the path)."""

    path: str
    ok: bool
    value: Any = None
    error: str | None = None


def describe(exc: BaseException, path: str | None = None) -> str:
    """A one-line reason for a failed photo, without the photo's own path in front."""
    if isinstance(exc, AcneKitError):
        if path is not None and exc.path == str(path):
            return f"{exc.where}: {exc.detail}" if exc.where else exc.detail
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def prepare_chunk(job, paths: Sequence[str]) -> list[tuple[bool, Any]]:
    """``job.prepare`` on each path: (True, item) or (False, reason)."""
    out: list[tuple[bool, Any]] = []
    for p in paths:
        try:
            out.append((True, job.prepare(p)))
        except Exception as exc:  # a bad photo, whatever the cause; signals are BaseException
            out.append((False, describe(exc, p)))
    return out


def infer_chunk(job, state, paths: Sequence[str], prepared: list[tuple[bool, Any]]) -> list[Outcome]:
    """``job.infer`` on the prepared photos of a chunk; when the chunk fails as a whole, each
    photo again on its own, so the failure is pinned to the photo that caused it."""
    outcomes: list[Outcome | None] = [None] * len(paths)
    good = []
    for i, (p, (ok, x)) in enumerate(zip(paths, prepared)):
        if ok:
            good.append(i)
        else:
            outcomes[i] = Outcome(str(p), False, error=x)
    if good:
        try:
            values = job.infer(state, [prepared[i][1] for i in good])
            for i, v in zip(good, values):
                outcomes[i] = Outcome(str(paths[i]), True, v)
        except Exception as exc:
            if len(good) == 1:
                i = good[0]
                outcomes[i] = Outcome(str(paths[i]), False, error=describe(exc, paths[i]))
            else:
                for i in good:
                    try:
                        outcomes[i] = Outcome(str(paths[i]), True, job.infer(state, [prepared[i][1]])[0])
                    except Exception as exc1:
                        outcomes[i] = Outcome(str(paths[i]), False, error=describe(exc1, paths[i]))
    return outcomes  # type: ignore[return-value]


def process_chunk(job, state, paths: Sequence[str]) -> list[Outcome]:
    """The per-photo function every engine calls: prepare, then infer, failures caught."""
    return infer_chunk(job, state, paths, prepare_chunk(job, paths))


def run_engine(engine: str, job, chunks: list[list[str]], on_outcome: Callable[[Outcome], None], *,
               ray_options: dict | None = None) -> None:
    """Run ``job`` over ``chunks`` with ``engine`` ("local" or "ray"), calling ``on_outcome``
    in this process as each photo completes (in any order with Ray)."""
    if not chunks:
        return
    if engine == "local":
        from acnekit.engines.local import run_local

        run_local(job, chunks, on_outcome)
    elif engine == "ray":
        from acnekit.engines.ray_engine import run_ray

        run_ray(job, chunks, on_outcome, **(ray_options or {}))
    else:
        raise AcneKitError(f"unknown engine {engine!r} (expected local or ray)", where="--engine")
