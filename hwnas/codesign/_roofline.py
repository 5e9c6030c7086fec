"""The roofline cost model: energy and latency of any priced op on an `Accelerator`, in microseconds.

Why a second model: ZigZag searches mappings and takes 0.05–3 s per layer here, too slow for a search of
hundreds of (arch, accelerator) trials; this model takes microseconds. It prices
- dense ops (conv2d, conv1d, linear) with the same per-layer spatial unrolling as the ZigZag path: compute cycles
  from the unrolled loops (ceil per dim: under-used PEs cost time), SRAM traffic from each dataflow's reuse
  (the stationary operand is read once, the others once per tile of the stationary one), DRAM traffic from
  tensor sizes (re-streamed when the working set exceeds the SRAM), 2 register-file accesses per MAC;
  then scaled by the per-dataflow factors fitted to ZigZag (`calibration.json`);
- ops ZigZag does not model — attention cores (two activation operands and a softmax), norms, activations,
  element-wise adds and products, pooling, embeddings and learned tensors — as vector work on the
  array's columns plus their SRAM / DRAM traffic.
Latency is the roofline: max(compute cycles, DRAM bytes / bandwidth, SRAM bits / SRAM port width).
An op kind outside `PRICED_KINDS` raises `UnsupportedOpError`; nothing is priced as zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwnas.codesign._accelerator import PSUM_BITS, Accelerator
from hwnas.codesign._tech import ALU_PJ, DRAM_PJ_PER_BIT, MAC_PJ, sram_pj_per_bit
from hwnas.codesign._zigzag import ZIGZAG_KINDS, _dims, spatial_unrolling
from hwnas.errors import UnsupportedOpError
from hwnas.search_spaces import OpSpec

#: Element-wise kinds: (ALU ops per element, tensor reads per element, writes per element).
VECTOR_KINDS = {"act": (4, 1, 1), "add": (1, 2, 1), "mul": (1, 2, 1), "layernorm": (5, 2, 1), "groupnorm": (5, 2, 1),
                "batchnorm": (2, 1, 1), "pool": (1, 1, 0), "param": (1, 1, 0), "embedding": (0, 1, 1)}
ATTENTION_KINDS = ("attention", "window_attention")
PRICED_KINDS = (*ZIGZAG_KINDS, *ATTENTION_KINDS, *VECTOR_KINDS)


@dataclass(frozen=True)
class OpCost:
    energy_pj: float
    cycles: float


def _numel(op: OpSpec) -> int:
    a = dict(op.attrs)
    if op.kind in ("act", "add", "mul", "param"):
        return int(a["numel"])
    if op.kind in ("layernorm", "embedding"):
        return int(a["n"]) * int(a["dim"])
    if op.kind == "groupnorm":
        return int(a["channels"]) * int(a["length"])
    if op.kind == "batchnorm":
        return int(a["channels"]) * int(a["h"]) * int(a["w"])
    if op.kind == "pool":
        return int(a["numel_in"])
    raise UnsupportedOpError(f"op {op.key} has no element count")


def _sram_port_bits(acc: Accelerator) -> int:
    return 64 * (acc.pe_rows + acc.pe_cols)  # as in the ZigZag accelerator description


def _memory_cost(acc: Accelerator, sram_bits: float, dram_bytes: float) -> tuple[float, float]:
    energy = sram_bits * sram_pj_per_bit(acc.sram_kb * 1024) + dram_bytes * 8 * DRAM_PJ_PER_BIT
    cycles = max(sram_bits / _sram_port_bits(acc), dram_bytes / acc.dram_bytes_per_cycle)
    return energy, cycles


def _dram_bytes(acc: Accelerator, weights: float, inputs: float, outputs: float) -> float:
    """Each tensor once if the working set fits the SRAM; otherwise the smaller of weights and inputs
    stays in half the SRAM and the other is re-streamed once per tile of it."""
    sram = acc.sram_kb * 1024
    total = weights + inputs + outputs
    if total <= sram:
        return total
    tiles_w, tiles_i = math.ceil(weights / (sram / 2)), math.ceil(inputs / (sram / 2))
    return total + min(inputs * (tiles_w - 1), weights * (tiles_i - 1))


def dense_cost(op: OpSpec, acc: Accelerator) -> OpCost:
    """Uncalibrated roofline cost of a conv2d / linear op (see the module docstring)."""
    d = _dims(op)
    unroll = {name: size for pairs in spatial_unrolling(op, acc).values() for name, size in pairs}
    loops = ("G", "K", "C", "OY", "OX", "FY", "FX")
    cycles_compute = math.prod(math.ceil(d.get(x, 1) / unroll.get(x, 1)) for x in loops)
    g, k, c, oy, ox, fy, fx, s = (d.get(x, 1) for x in ("G", "K", "C", "OY", "OX", "FY", "FX", "S"))
    macs = g * k * c * oy * ox * fy * fx
    weights, outputs = g * k * c * fy * fx, g * k * oy * ox
    inputs = g * c * ((oy - 1) * s + fy) * ((ox - 1) * s + fx)
    depthwise = g > 1 and k == 1 and c == 1
    k_tiles = 1 if depthwise else math.ceil(k / max(1, unroll.get("K", 1)))  # a depthwise input feeds one channel
    c_tiles = math.ceil(c * fy * fx / max(1, unroll.get("C", 1) * unroll.get("FY", 1) * unroll.get("FX", 1)))
    pixel_tiles = math.ceil(oy * ox / max(1, unroll.get("OY", 1) * unroll.get("OX", 1)))
    if acc.dataflow == "ws":  # weights once; inputs once per column tile; partial sums per row tile
        sram_bits = 8 * weights + 8 * inputs * k_tiles + PSUM_BITS * 2 * outputs * c_tiles
    elif acc.dataflow == "os":  # outputs once; weights per pixel tile; inputs per column tile, no window reuse
        sram_bits = 8 * outputs + 8 * weights * pixel_tiles + 8 * inputs * k_tiles * fy * fx / (s * s)
    else:  # rs: filter rows reused along a PE row, input rows along diagonals, partial sums in the column
        rf_reuse = max(1, acc.rf_bytes // max(1, fx))
        sram_bits = 8 * weights * pixel_tiles + 8 * inputs * math.ceil(k / rf_reuse) + PSUM_BITS * 2 * outputs * c_tiles
    rf_bits = macs * (8 + PSUM_BITS) * (1.5 if acc.dataflow == "rs" else 1.0)
    mem_energy, mem_cycles = _memory_cost(acc, sram_bits, _dram_bytes(acc, weights, inputs, outputs))
    energy = macs * MAC_PJ + rf_bits * sram_pj_per_bit(acc.rf_bytes) + mem_energy
    return OpCost(energy, max(float(cycles_compute), mem_cycles))


def _attention_cost(op: OpSpec, acc: Accelerator) -> OpCost:
    a = dict(op.attrs)
    if op.kind == "attention":
        scores = int(a["heads"]) * int(a["n_q"]) * int(a["n_kv"])
        tensors = (2 * int(a["n_q"]) + 2 * int(a["n_kv"])) * int(a["heads"]) * int(a["head_dim"])
    else:
        scores = int(a["branches"]) * int(a["windows"]) * int(a["heads"]) * int(a["tokens"]) ** 2
        tensors = int(a["branches"]) * int(a["windows"]) * int(a["tokens"]) * (2 * int(a["qk_dim"]) + 2 * int(a["v_dim"]))
    cycles_compute = op.macs / acc.pes + 5 * scores / acc.pe_cols  # matmuls on the array, softmax on the columns
    sram_bits = 8 * tensors + 2 * 8 * scores
    mem_energy, mem_cycles = _memory_cost(acc, sram_bits, _dram_bytes(acc, 0, tensors, 0))
    energy = op.macs * MAC_PJ + 5 * scores * ALU_PJ + mem_energy
    return OpCost(energy, max(cycles_compute, mem_cycles))


def _vector_cost(op: OpSpec, acc: Accelerator) -> OpCost:
    ops_per, reads, writes = VECTOR_KINDS[op.kind]
    n = _numel(op)
    from_dram = op.kind in ("param", "embedding")  # learned tensors live off chip
    traffic = n * (reads + writes)
    dram = n if from_dram else _dram_bytes(acc, 0, n * reads, n * writes) - traffic if traffic > acc.sram_kb * 1024 else 0
    mem_energy, mem_cycles = _memory_cost(acc, 8 * traffic, dram)
    energy = n * ops_per * ALU_PJ + mem_energy
    return OpCost(energy, max(n * max(ops_per, 1) / acc.pe_cols, mem_cycles))


def roofline_cost(op: OpSpec, acc: Accelerator) -> OpCost:
    """Uncalibrated cost of one op; raises `UnsupportedOpError` for a kind no model prices."""
    if op.kind in ZIGZAG_KINDS:
        return dense_cost(op, acc)
    if op.kind in ATTENTION_KINDS:
        return _attention_cost(op, acc)
    if op.kind in VECTOR_KINDS:
        return _vector_cost(op, acc)
    raise UnsupportedOpError(f"no cost model prices op {op.key}; priced kinds: {', '.join(PRICED_KINDS)}")
