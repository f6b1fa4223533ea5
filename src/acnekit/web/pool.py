"""A fixed set of worker threads for the CPU-heavy work (decoding, detection, drawing).

Requests wait for a free worker in the executor's queue; how many may wait at all is bounded
before the request body is read (`acnekit.web.guard.Guard` slots), so a burst of uploads
queues instead of piling decoded photos into memory: at most ``workers`` photos are decoded
at any moment. A queued job whose client went away is cancelled before it starts.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


class WorkerPool:
    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.running = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="acnekit-web")

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on a worker thread; waits, without blocking the event
        loop, for a free worker."""

        def job() -> Any:
            with self._lock:
                self.running += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.running -= 1

        return await asyncio.wrap_future(self._executor.submit(job))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
