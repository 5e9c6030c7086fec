"""Die area of an accelerator: PE array + per-PE register files + global SRAM (constants in `_tech`)."""

from __future__ import annotations

from hwnas.codesign._accelerator import Accelerator
from hwnas.codesign._tech import PE_UM2, RF_UM2_PER_BIT, SRAM_UM2_PER_BIT

#: Operands each dataflow keeps in a PE's register file(s).
RF_OPERANDS = {"ws": ("W",), "os": ("O",), "rs": ("I", "W", "O")}


def area_mm2(acc: Accelerator) -> float:
    """First-order area (mm², 45 nm): logic and storage only; wiring and control are not modelled."""
    rf_bits = acc.rf_bytes * 8 * len(RF_OPERANDS[acc.dataflow])
    pe_um2 = acc.pes * (PE_UM2 + rf_bits * RF_UM2_PER_BIT)
    sram_um2 = acc.sram_kb * 1024 * 8 * SRAM_UM2_PER_BIT
    return (pe_um2 + sram_um2) / 1e6
