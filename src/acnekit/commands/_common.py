"""Helpers shared by subcommands."""

from __future__ import annotations

import json
import sys
from typing import Any


def add_tta_arg(p) -> None:
    """``--tta model|on|off`` for commands that run the detector."""
    p.add_argument("--tta", choices=("model", "on", "off"), default="model",
                   help="flip test-time augmentation: the model card's choice (default), on, or off "
                        "(off is about twice as fast, slightly less accurate)")


def apply_tta(detector, choice: str) -> None:
    """Apply ``--tta``: "model" leaves the detector as loaded (so stand-in detectors in
    tests need no `set_tta`); "on" / "off" force it."""
    if choice != "model":
        detector.set_tta(choice)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=_default)
    sys.stdout.write("\n")


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    """A plain fixed-width text table."""
    cells = [[str(c) for c in r] for r in ([header] if header else []) + rows]
    if not cells:
        return ""
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(map(len, cells)))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    if header:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
