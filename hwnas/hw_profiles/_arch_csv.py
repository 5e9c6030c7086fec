"""A user's own measurements: a CSV of subnets of any space, one arch JSON per row, and their latencies.

Layout: a column `arch` (the arch as a JSON object, as `hwnas sample` prints it) and one column per device
(or batch size) in milliseconds. Every row must be an arch of the space named on the command line; a profile
fitted on it prices that space's ops as measured and other spaces' ops by composition (`_op_level`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import DataFileError, HwnasError
from hwnas.hw_profiles._csv import csv_records, positive
from hwnas.search_spaces import Arch

ARCH_COLUMN = "arch"


def read_arch_csv(path: str | Path, space: Any, column: str, min_rows: int = 10) -> tuple[list[Arch], np.ndarray]:
    """The archs of `space` and the ms of `column`; a missing file or column, an arch outside the space, a
    non-number, a non-positive latency or fewer than `min_rows` rows (a unit-cost fit needs 10; a few-shot
    profile fewer) raises `DataFileError` naming the file, line and column."""
    path = Path(path)
    with csv_records(path) as reader:
        header = list(reader.fieldnames or [])
        if ARCH_COLUMN not in header:
            raise DataFileError(f"{path}: no column {ARCH_COLUMN!r}; a measurements CSV has an 'arch' column of arch JSON "
                                "objects and one latency column (ms) per device")
        if column not in header or column == ARCH_COLUMN:
            choices = ", ".join(c for c in header if c != ARCH_COLUMN) or "none"
            raise DataFileError(f"{path}: no latency column {column!r}; columns: {choices}")
        archs, values = [], []
        for line, record in enumerate(reader, start=2):
            try:
                archs.append(space.validate(Arch.from_json(record[ARCH_COLUMN] or "")))
            except (HwnasError, RecursionError) as exc:
                raise DataFileError(f"{path}: line {line}, column 'arch': {exc}") from None
            values.append(positive(record.get(column), f"{path}: line {line}, column {column!r}"))
    if len(archs) < min_rows:
        raise DataFileError(f"{path}: {len(archs)} measured subnets; fitting unit costs needs at least {min_rows} "
                            "(100 or more is better)")
    return archs, np.asarray(values, dtype=np.float64)
