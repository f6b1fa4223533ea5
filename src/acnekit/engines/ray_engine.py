"""The Ray engine: photos through Ray Data, the model loaded once per actor.

Rows carry a chunk of photo *paths* (the actor reads the photos, so pixels never travel);
each actor runs `acnekit.engines.core.process_chunk`, the same code as the local engine,
and sends back the pickled outcomes, which the driver writes as they arrive. Photos and
the model must be readable at the same paths on every node (a shared or copied folder),
and acnekit installed there.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import signal
import threading
from typing import Callable

import numpy as np

from acnekit.engines.core import Outcome, process_chunk
from acnekit.errors import AcneKitError


class _Worker:
    """A Ray Data actor: the job's model, loaded once."""

    def __init__(self, job):
        self.job = job
        self.state = job.load()

    def __call__(self, batch: dict) -> dict:
        out = [pickle.dumps(process_chunk(self.job, self.state, json.loads(p))) for p in batch["paths"]]
        return {"k": batch["k"], "outcomes": np.array(out, dtype=object)}


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise AcneKitError("the Ray engine needs Ray Data: pip install 'acnekit[ray]'", where="--engine ray") from None
    return ray


def _signal_handlers(restore: dict | None = None) -> dict:
    """The SIGTERM / SIGHUP handlers (main thread only), or put ``restore`` back."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    if restore is not None:
        for sig, handler in restore.items():
            if handler is not None:
                signal.signal(sig, handler)
        return restore
    return {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig}


def _brief(exc: BaseException) -> str:
    lines = [x for x in str(exc).strip().splitlines() if x.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def run_ray(job, chunks: list[list[str]], on_outcome: Callable[[Outcome], None], *, address: str | None = None,
            actors: int | None = None, cpus: float | None = None, gpus: float = 0.0, progress: bool = False) -> None:
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        handlers = _signal_handlers()
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR,
                     log_to_driver=True)
            _signal_handlers(handlers)  # ray.init installs its own SIGTERM handler: keep the caller's
        except Exception as exc:  # ConnectionError, RuntimeError ... from a bad address or a dead cluster
            raise AcneKitError(f"cannot start or join Ray ({_brief(exc)})", where="--ray-address") from None
        started = True
    try:
        res = ray.cluster_resources()
        n_cpus, n_gpus = float(res.get("CPU", 1.0)), float(res.get("GPU", 0.0))
        if gpus and n_gpus < gpus:
            raise AcneKitError(f"the Ray cluster has {n_gpus:g} GPUs, fewer than the {gpus:g} asked per actor",
                               where="--ray-gpus")
        if cpus is None:
            cpus = 0.5 if n_cpus <= 2 else 1.0  # on 2 CPUs, 1-CPU actors were seen to starve Ray Data's tasks
        if actors is None:
            actors = int(n_gpus // gpus) if gpus else int(n_cpus // 2)
        actors = max(1, min(actors, len(chunks)))
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = progress
        ctx.execution_options.preserve_order = False  # results as they complete
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        job = dataclasses.replace(job, device="cuda" if gpus else None)
        items = [{"k": k, "paths": json.dumps(paths)} for k, paths in enumerate(chunks)]
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        extra = {"num_gpus": gpus} if gpus else {}
        ds = ds.map_batches(_Worker, fn_constructor_args=(job,), batch_size=1,
                            compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=cpus, batch_format="numpy",
                            **extra)
        it = iter(ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0))
        while True:
            try:
                batch = next(it)
            except StopIteration:
                break
            except AcneKitError:
                raise
            except Exception as exc:  # an actor could not start (e.g. the model), a node died ...
                cause = getattr(exc, "cause", None)
                if isinstance(cause, AcneKitError):
                    raise cause from None
                raise AcneKitError(f"the Ray engine failed: {_brief(exc)}", where="--engine ray") from None
            for payload in batch["outcomes"]:
                for o in pickle.loads(payload):
                    on_outcome(o)
    finally:
        if started:
            ray.shutdown()
