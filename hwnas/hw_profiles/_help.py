"""HELP's latency CSVs: measured subnets of a space, one latency column per device (and batch size).

Layout (`../shared/data/help-latency/`, see its README): `index`, the arch columns, then one column per
device in milliseconds. The OFA file's arch columns are `ks` and `e` (20 slots, 5 stages × 4, joined by
`-`; slots beyond a stage's depth are unused), `d` (5 depths) and `r` (resolution); they map onto the
`ofa-mbv3` space's choices. The FBNet file's `arch` column is the 22 layers' blocks joined by `-` (the
`fbnet` space's `blocks`). A device column is named `<device>_<batch>` where it was measured at several
batch sizes (`2080ti_32`), or `<device>` alone (batch 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import DataFileError
from hwnas.hw_profiles._csv import csv_records, positive

#: Arch columns of each layout -> the space their rows are subnets of.
LAYOUTS = {("ks", "e", "d", "r"): "ofa-mbv3", ("arch",): "fbnet"}
STAGES, SLOTS_PER_STAGE = 5, 4


@dataclass(frozen=True)
class HelpData:
    """Rows of a HELP CSV: `archs` (choice dicts of `space`) and the measured ms of each device column."""

    path: Path
    space: str
    index: list[int]
    archs: list[dict[str, Any]]
    latency_ms: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.archs)

    def column(self, name: str) -> np.ndarray:
        if name not in self.latency_ms:
            raise DataFileError(f"{self.path}: no device column {name!r}; columns: {', '.join(self.latency_ms)}")
        return self.latency_ms[name]


def column_batch(column: str) -> int:
    """The batch size a device column was measured at: `2080ti_32` → 32, `pixel2` → 1."""
    match = re.fullmatch(r".+_(\d+)", column)
    return int(match.group(1)) if match else 1


def _ints(text: str, expected: int, where: str) -> list[int]:
    try:
        values = [int(v) for v in text.split("-")]
    except ValueError:
        raise DataFileError(f"{where}: {text!r} is not integers joined by '-'") from None
    if len(values) != expected:
        raise DataFileError(f"{where}: {len(values)} values, expected {expected}")
    return values


def ofa_arch(ks: str, e: str, d: str, r: str, where: str) -> dict[str, Any]:
    """An `ofa-mbv3` arch from HELP's OFA columns (a stage of depth d keeps its first d slots)."""
    kernels, expands = _ints(ks, STAGES * SLOTS_PER_STAGE, f"{where}, column 'ks'"), _ints(e, STAGES * SLOTS_PER_STAGE, f"{where}, column 'e'")
    depths = _ints(d, STAGES, f"{where}, column 'd'")
    try:
        arch: dict[str, Any] = {"resolution": int(r)}
    except ValueError:
        raise DataFileError(f"{where}, column 'r': {r!r} is not an integer resolution") from None
    for s, depth in enumerate(depths):
        first = s * SLOTS_PER_STAGE
        arch[f"s{s + 1}_depth"] = depth
        arch[f"s{s + 1}_kernel"] = kernels[first: first + depth]
        arch[f"s{s + 1}_expand"] = expands[first: first + depth]
    return arch


def fbnet_arch(blocks: str, where: str) -> dict[str, Any]:
    """An `fbnet` arch from HELP's FBNet `arch` column."""
    if not blocks:
        raise DataFileError(f"{where}, column 'arch' is empty")
    return {"blocks": blocks.split("-")}


PARSERS = {"ofa-mbv3": ofa_arch, "fbnet": fbnet_arch}


def _layout(path: Path, header: list[str]) -> tuple[str, ...]:
    """The arch columns of the layout `header` has (a key of `LAYOUTS`)."""
    layout = next((cols for cols in LAYOUTS if set(cols) <= set(header)), None)
    if layout is None or "index" not in header:
        known = "; ".join("index, " + ", ".join(cols) for cols in LAYOUTS)
        raise DataFileError(f"{path}: not a HELP latency CSV (columns {header[:6]}...); expected the columns {known}, "
                            "then one column per device")
    return layout


def help_space(path: str | Path) -> str:
    """The space a HELP CSV's rows are subnets of, from its header alone."""
    path = Path(path)
    with csv_records(path) as reader:
        return LAYOUTS[_layout(path, list(reader.fieldnames or []))]


def read_help_csv(path: str | Path) -> HelpData:
    """Parse a HELP CSV; a missing file or column, a malformed arch, a non-number or non-positive latency, or
    no rows raises `DataFileError` naming the file, line and column."""
    path = Path(path)
    with csv_records(path) as reader:
        header = list(reader.fieldnames or [])
        layout = _layout(path, header)
        devices = [c for c in header if c not in layout and c != "index"]
        if not devices:
            raise DataFileError(f"{path}: no device columns after the arch columns")
        index, archs, values = [], [], []
        for line, record in enumerate(reader, start=2):
            where = f"{path}: line {line}"
            try:
                index.append(int(record["index"]))
            except (TypeError, ValueError):
                raise DataFileError(f"{where}, column 'index': {record.get('index')!r} is not an integer") from None
            archs.append(PARSERS[LAYOUTS[layout]](*(record[c] or "" for c in layout), where))
            values.append([positive(record.get(column), f"{where}, column {column!r}") for column in devices])
    if not archs:
        raise DataFileError(f"{path}: no measurements (the CSV has a header but no rows)")
    table = np.asarray(values, dtype=np.float64)
    return HelpData(path, LAYOUTS[layout], index, archs, {c: table[:, j] for j, c in enumerate(devices)})
