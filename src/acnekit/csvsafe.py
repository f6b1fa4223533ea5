"""CSV that spreadsheets cannot run: every CSV acnekit writes goes through `csv_text`.

A spreadsheet treats a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula, so a photo named ``=HYPERLINK(...).jpg`` would run when the
CSV is opened. Such cells are written with a leading apostrophe (OWASP's advice), which
spreadsheets show as text; numbers (``-1.5``) are left as they are. The escape is reversible:
`unescape_cell` (used by acnekit's own CSV reader) gives back the original text exactly.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text[:1] not in ("\t", "\r")


def needs_escape(text: str) -> bool:
    if not text:
        return False
    if text[0] == "'":
        return needs_escape(text[1:])
    return text.startswith(TRIGGERS) and not _is_number(text)


def escape_cell(value: Any) -> Any:
    """``value`` as it is safe to write (non-strings are left to the csv module)."""
    return "'" + value if isinstance(value, str) and needs_escape(value) else value


def unescape_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and needs_escape(text[1:]) else text


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text (``\\n`` line ends), every string cell escaped."""
    buf = io.StringIO(newline="")
    plain = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)  # the csv module leaves a lone CR bare
    for row in rows:
        cells = [escape_cell(c) for c in row]
        (quoted if any(isinstance(c, str) and "\r" in c for c in cells) else plain).writerow(cells)
    return buf.getvalue()
