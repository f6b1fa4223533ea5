"""Reference grades and counts to score predictions against.

* ``grades_from_filenames``: ACNE04's grade from the file name (``levle{K}_*.jpg`` -> K).
* ``load_grade_csv``: a CSV with columns ``file_name`` and ``grade`` (an integer 0..K-1).
* ``load_box_counts``: the number of boxes per image in a folder of Pascal VOC XML files
  (e.g. ACNE04's own marks, ``acne04-640/voc``). Every box counts as one lesion whatever its
  class name: in ACNE04 the class names encode the photo's grade, they are not lesion types.

Each returns ``{file_name: int}``; bad input raises `DatasetError` naming the file, the
row or field, and the value.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from acnekit.errors import DatasetError, short_repr
from acnekit.grading import filename_grade

FILENAME_PREFIX = "filename-prefix"
CSV_COLUMNS = ("file_name", "grade")


def _check_grade(g: int, n_grades: int, path, where: str, value) -> int:
    if not 0 <= g < n_grades:
        raise DatasetError(f"grade must be an integer 0-{n_grades - 1}, got {short_repr(value)}", path=path,
                           where=where)
    return g


def grades_from_filenames(names: Iterable[tuple[str, str | None, str]], n_grades: int = 4) -> dict[str, int]:
    """ACNE04 grades from file names. ``names``: (file_name, file it came from, where in it)."""
    out: dict[str, int] = {}
    for name, path, where in names:
        g = filename_grade(name)
        if g is None:
            raise DatasetError(f"file name does not start with 'levle<grade>_' (ACNE04's spelling), so "
                               f"--reference-grades {FILENAME_PREFIX} cannot grade it: {short_repr(name)}",
                               path=path, where=where)
        out[name] = _check_grade(g, n_grades, path, where, name)
    return out


def load_grade_csv(path: str | Path, n_grades: int = 4) -> dict[str, int]:
    """``{file_name: grade}`` from a CSV with a header naming ``file_name`` and ``grade``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError("file not found", path=path) from None
    except IsADirectoryError:
        raise DatasetError("is a folder, expected a CSV file", path=path) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror}", path=path) from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise DatasetError("empty file, expected a header with columns file_name, grade", path=path)
    cols = [h.strip() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in cols]
    if missing:
        raise DatasetError(f"header must name the columns file_name and grade, got {short_repr(cols)}", path=path,
                           where="row 1")
    i_name, i_grade = cols.index("file_name"), cols.index("grade")
    out: dict[str, int] = {}
    first_row: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(cols):
            raise DatasetError(f"expected {len(cols)} fields as in the header, got {len(row)}: {short_repr(row)}",
                               path=path, where=f"row {line}")
        name, value = row[i_name].strip(), row[i_grade].strip()
        if not name:
            raise DatasetError("empty file_name", path=path, where=f"row {line}, column file_name")
        try:
            g = int(value)
        except ValueError:
            raise DatasetError(f"grade must be an integer 0-{n_grades - 1}, got {short_repr(value)}", path=path,
                               where=f"row {line}, column grade") from None
        _check_grade(g, n_grades, path, f"row {line}, column grade", value)
        if name in out:
            raise DatasetError(f"file_name {short_repr(name)} already given in row {first_row[name]}", path=path,
                               where=f"row {line}, column file_name")
        out[name], first_row[name] = g, line
    if not out:
        raise DatasetError("no rows after the header", path=path)
    return out


def load_box_counts(folder: str | Path) -> dict[str, int]:
    """``{file_name: number of boxes}`` from a folder of VOC XML files (all classes as one)."""
    from acnekit.formats.voc import load_voc

    ds = load_voc(folder, keep_outside=True)
    return {im.file_name: im.count for im in ds.images}
