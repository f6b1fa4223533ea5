"""How a batch of photos is run.

Every engine calls the same per-photo code (`process_chunk`: a job's ``prepare`` on each
path, then its ``infer`` on the photos that read), so results are identical whichever
engine ran them:

- `local`: in this process, the next chunk read in a background thread while the current
  one is detected;
- `ray`: Ray Data actors (the model loaded once per actor; photos travel as paths).

`batch` holds what the commands share around an engine: the input pre-check, ``--shard``,
the progress bar, failure lists and exit codes; `staging` the hidden temporary folders
(owned, cleaned after interrupted runs) and the signal handlers.
"""

from acnekit.engines.core import Outcome, describe, infer_chunk, prepare_chunk, process_chunk, run_engine

__all__ = ["Outcome", "describe", "infer_chunk", "prepare_chunk", "process_chunk", "run_engine"]
