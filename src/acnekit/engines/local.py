"""The local engine: this process, one model; the next chunk is read while this one is detected."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from acnekit.engines.core import Outcome, infer_chunk, prepare_chunk


def run_local(job, chunks: list[list[str]], on_outcome: Callable[[Outcome], None]) -> None:
    state = job.load()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(prepare_chunk, job, chunks[0])
        try:
            for k, paths in enumerate(chunks):
                prepared = pending.result()
                pending = pool.submit(prepare_chunk, job, chunks[k + 1]) if k + 1 < len(chunks) else None
                for o in infer_chunk(job, state, paths, prepared):
                    on_outcome(o)
        finally:
            if pending is not None:
                pending.cancel()
