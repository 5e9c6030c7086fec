"""Reading measurement CSVs: one place where a missing, binary or malformed file and a bad latency cell become
one `DataFileError` naming the file, line and column."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hwnas.errors import DataFileError


@contextmanager
def csv_records(path: Path) -> Iterator[csv.DictReader]:
    """A `DictReader` over `path`, open for the `with` block (errors while reading rows are mapped too)."""
    try:
        with path.open(newline="") as handle:
            yield csv.DictReader(handle)
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not a text CSV file") from None
    except csv.Error as exc:
        raise DataFileError(f"{path}: malformed CSV ({exc})") from None


def positive(text: str | None, where: str) -> float:
    """The cell `text` (at `where`: file, line and column) as a positive finite number."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFileError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataFileError(f"{where} is {text} (need a finite number)")
    if value <= 0:
        raise DataFileError(f"{where} = {text} must be positive")
    return value
