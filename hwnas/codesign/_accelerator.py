"""`Accelerator`: one spatial DNN accelerator (PE array, per-PE register files, global SRAM, DRAM link).

The physical checks live here, not in the space, so a hand-written config (JSON, a test, the benchmark's
fixed accelerators) is refused with the same one-line `InvalidHardwareError` naming the field.

Dataflows (which operand stays in the PE while the others stream past):
- `ws` weight-stationary (a systolic array): input channels on the rows, output channels on the columns;
- `os` output-stationary: output pixels on the rows, output channels on the columns;
- `rs` row-stationary: filter rows × input channels on the rows, output rows on the columns.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from hwnas.errors import InvalidHardwareError

DATAFLOWS = ("ws", "os", "rs")
WORD_BITS = 8  # int8 weights and activations
PSUM_BITS = 32  # partial sums


@dataclass(frozen=True)
class Accelerator:
    """An accelerator config; build it with `Accelerator.from_config` to have it checked."""

    pe_rows: int
    pe_cols: int
    rf_bytes: int  # register file per PE, for each operand the dataflow keeps in the PE
    sram_kb: int  # global buffer shared by inputs, weights and outputs
    dram_gbps: float  # off-chip bandwidth, GB/s
    dataflow: str
    clock_mhz: float = 500.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Accelerator:
        """Check every field (types, positivity, SRAM ≥ one tile, RF ≥ one word) and build; raises
        `InvalidHardwareError` naming the first bad field."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(config) - set(names) - {"hw_id"})
        if unknown:
            raise InvalidHardwareError(f"accelerator field {unknown[0]!r} is unknown; fields are: {', '.join(names)}")
        required = [f.name for f in fields(cls) if f.name != "clock_mhz"]
        missing = [n for n in required if n not in config]
        if missing:
            raise InvalidHardwareError(f"accelerator field {missing[0]!r} is missing")
        for name in ("pe_rows", "pe_cols", "rf_bytes", "sram_kb"):
            value = config[name]
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InvalidHardwareError(f"accelerator field {name!r} must be a positive integer, got {value!r}")
        for name in ("dram_gbps", "clock_mhz"):
            value = config.get(name, 500.0)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
                raise InvalidHardwareError(f"accelerator field {name!r} must be a positive number, got {value!r}")
        if config["dataflow"] not in DATAFLOWS:
            raise InvalidHardwareError(f"accelerator field 'dataflow' = {config['dataflow']!r} is not one of {list(DATAFLOWS)}")
        values = {k: v for k, v in config.items() if k in names}
        values.update({k: float(values[k]) for k in ("dram_gbps", "clock_mhz") if k in values})  # 8 and 8.0: one id
        acc = cls(**values)
        if acc.rf_bytes * 8 < PSUM_BITS:
            raise InvalidHardwareError(f"accelerator field 'rf_bytes' = {acc.rf_bytes} is smaller than one partial sum "
                                       f"({PSUM_BITS // 8} bytes)")
        if acc.sram_kb * 1024 < acc.tile_bytes:
            raise InvalidHardwareError(f"accelerator field 'sram_kb' = {acc.sram_kb} is smaller than one tile of the "
                                       f"{acc.pe_rows}×{acc.pe_cols} PE array ({acc.tile_bytes} bytes)")
        return acc

    @property
    def pes(self) -> int:
        return self.pe_rows * self.pe_cols

    @property
    def tile_bytes(self) -> int:
        """One step of the array: a weight per PE, an input per row, a partial sum per column."""
        return self.pes * WORD_BITS // 8 + self.pe_rows * WORD_BITS // 8 + self.pe_cols * PSUM_BITS // 8

    @property
    def dram_bytes_per_cycle(self) -> float:
        return self.dram_gbps * 1e9 / (self.clock_mhz * 1e6)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def id(self) -> str:
        """Stable 16-hex id of the config (the same hashing as `Arch.id`)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
