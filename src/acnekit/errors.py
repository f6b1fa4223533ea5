"""One exception family. Every message names where (file, JSON path) and what (the value)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def short_repr(value: Any, limit: int = 80) -> str:
    """A compact, JSON-like rendering of a value for error messages."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class AcneKitError(Exception):
    """Base class of every error acnekit raises for bad user input."""

    def __init__(self, message: str, *, path: str | Path | None = None, where: str | None = None):
        self.path = str(path) if path is not None else None
        self.where = where
        self.detail = message
        prefix = ""
        if self.path:
            prefix += f"{self.path}: "
        if where:
            prefix += f"{where}: "
        super().__init__(prefix + message)


class DatasetError(AcneKitError):
    """An annotation file (Acne04-v2, COCO, YOLO, VOC, CSV) is unreadable or invalid."""


class ImageError(AcneKitError):
    """A photo is missing, unreadable, corrupt, too large or too small."""


class ModelError(AcneKitError):
    """A model file is missing, invalid or incompatible."""


class OutputError(AcneKitError):
    """An output cannot be written (exists already, unwritable folder, would overwrite an input)."""


class AcneKitWarning(UserWarning):
    """Something the user should know about an input that is still used (e.g. a grayscale
    photo). The CLI prints each as one ``warning:`` line on stderr."""
