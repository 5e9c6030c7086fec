"""Technology constants of the cost models (45 nm, 0.9 V), with their sources.

Energy (pJ):
- 8-bit multiply 0.2 pJ, 32-bit add 0.1 pJ: M. Horowitz, "Computing's energy problem (and what we can do
  about it)", ISSCC 2014, Fig. 1.1.9 (45 nm). A MAC is one of each: 0.3 pJ.
- SRAM read of a 64-bit word: 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB), same source. A square-root law
  in capacity, 10 pJ·√(bytes / 8 KiB), passes within 15% of all three points; register files use the
  same law (a 64-byte file: 0.9 pJ per 64 bits). Writes are priced as reads.
- DRAM: 1.3–2.6 nJ per 64-bit access, same source; we take the low end, 20 pJ per bit.
- Element-wise ALU op (add, compare, scale; 32-bit): 0.1 pJ, the 32-bit add of the same table.

Area (mm²):
- 8-bit multiplier 282 µm², 32-bit adder 137 µm²: Horowitz, ISSCC 2014, Fig. 1.1.9 → 419 µm² per PE.
- SRAM: 0.346 µm² per 6T bit cell (a 45 nm high-k metal-gate process; K. Mistry et al., IEDM 2007) at 70% array efficiency
  (periphery: decoders, sense amplifiers) → 0.494 µm² per bit.
- Register files are flip-flops: 4.522 µm² per bit (DFF_X1 of the NanGate 45 nm Open Cell Library).
- DRAM and its PHY are off chip and not counted.
"""

from __future__ import annotations

import math

MAC_PJ = 0.3
ALU_PJ = 0.1
DRAM_PJ_PER_BIT = 20.0
SRAM_64BIT_PJ_AT_8KIB = 10.0

PE_UM2 = 282.0 + 137.0
SRAM_UM2_PER_BIT = 0.346 / 0.7
RF_UM2_PER_BIT = 4.522


def sram_pj_per_bit(capacity_bytes: float) -> float:
    """Read (or write) energy per bit of an SRAM or register file of `capacity_bytes`."""
    return SRAM_64BIT_PJ_AT_8KIB * math.sqrt(capacity_bytes / 8192.0) / 64.0
