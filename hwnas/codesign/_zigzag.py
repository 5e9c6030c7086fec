"""The ZigZag reference path: dense layers (conv2d, conv1d, linear) priced by ZigZag's analytical cost model.

ZigZag (`zigzag-dse` on PyPI) takes a workload, an accelerator YAML and a mapping YAML, searches
spatial and temporal mappings (LOMA) and reports energy (pJ) and latency (cycles) per layer. Here the
accelerator YAML is written from an `Accelerator` (memories per dataflow, energies from `_tech`), each
op becomes one ZigZag layer with a per-layer spatial mapping that encodes the dataflow, and the run is
done in a temp dir with ZigZag's logging silenced. A layer takes ZigZag 0.05–0.5 s, which is why a
search uses the roofline calibrated on these results (see `_calibrate.py`) and this path is the reference.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hwnas.codesign._accelerator import PSUM_BITS, WORD_BITS, Accelerator
from hwnas.codesign._area import RF_OPERANDS
from hwnas.codesign._tech import DRAM_PJ_PER_BIT, MAC_PJ, sram_pj_per_bit
from hwnas.errors import UnsupportedOpError
from hwnas.search_spaces import OpSpec

ZIGZAG_KINDS = ("conv2d", "conv1d", "linear")
_OPERAND = {"I": "I1", "W": "I2", "O": "O"}


def _ports(operands: Sequence[str], bits: int, dram: bool = False) -> list[dict[str, Any]]:
    """Read/write ports `bits` wide; an access of fewer bits (down to one 8-bit word) costs its share of
    the port's energy (ZigZag's `bandwidth_min` is the access granularity)."""
    low = min(bits, WORD_BITS)
    reads = [f"{op}, tl" for op in operands] + (["O, th"] if "O" in operands else [])
    writes = [f"{op}, fh" for op in operands] + (["O, fl"] if "O" in operands else [])
    if dram:
        return [{"name": "rw_port_1", "type": "read_write", "bandwidth_min": low, "bandwidth_max": bits,
                 "allocation": reads + writes}]
    return [{"name": "r_port_1", "type": "read", "bandwidth_min": low, "bandwidth_max": bits, "allocation": reads},
            {"name": "w_port_1", "type": "write", "bandwidth_min": low, "bandwidth_max": bits, "allocation": writes}]


def _memory(size_bits: int, operands: Sequence[str], bits: int, pj_per_bit: float, served: list[str],
            dram: bool = False) -> dict[str, Any]:
    cost = round(pj_per_bit * bits, 6)
    return {"size": int(size_bits), "r_cost": cost, "w_cost": cost, "area": 0, "latency": 1, "operands": list(operands),
            "ports": _ports(operands, bits, dram), "served_dimensions": served}


def accelerator_yaml(acc: Accelerator) -> dict[str, Any]:
    """ZigZag's accelerator description of `acc`: per-PE register files for the operands the dataflow
    keeps in the PE, one global SRAM for all operands (64 bits per row and column per cycle), DRAM."""
    memories: dict[str, Any] = {}
    kept = RF_OPERANDS[acc.dataflow]
    for operand in kept:
        bits = PSUM_BITS if operand == "O" else WORD_BITS
        memories[f"rf_{operand}"] = _memory(acc.rf_bytes * 8, [_OPERAND[operand]], bits, sram_pj_per_bit(acc.rf_bytes), [])
    if "O" not in kept:  # an accumulator per PE: partial sums never leave the PE between two MACs
        memories["acc_O"] = _memory(PSUM_BITS, ["O"], PSUM_BITS, sram_pj_per_bit(PSUM_BITS // 8), [])
    sram_bits = 64 * (acc.pe_rows + acc.pe_cols)
    memories["sram"] = _memory(acc.sram_kb * 1024 * 8, ["I1", "I2", "O"], sram_bits, sram_pj_per_bit(acc.sram_kb * 1024),
                               ["D1", "D2"])
    dram_bits = max(8, int(acc.dram_bytes_per_cycle * 8))
    memories["dram"] = _memory(10**10, ["I1", "I2", "O"], dram_bits, DRAM_PJ_PER_BIT, ["D1", "D2"], dram=True)
    return {"name": f"hwnas_{acc.id}", "memories": memories,
            "operational_array": {"unit_energy": MAC_PJ, "unit_area": 1, "dimensions": ["D1", "D2"],
                                  "sizes": [acc.pe_rows, acc.pe_cols]}}


def _dims(op: OpSpec) -> dict[str, int]:
    """Loop sizes of a dense op in ZigZag's convolution dims (a linear layer is a 1×1 conv over n rows)."""
    if op.kind == "linear":
        return {"B": 1, "K": int(op["cout"]), "C": int(op["cin"]), "OY": int(op["n"]), "OX": 1, "FY": 1, "FX": 1, "S": 1}
    k, s, p = int(op["k"]), int(op["stride"]), int(op["padding"])
    groups = int(op["groups"])
    if op.kind == "conv1d":  # a 1-row conv2d
        ox = (int(op["length"]) + 2 * p - k) // s + 1
        return {"B": 1, "G": groups, "K": int(op["cout"]) // groups, "C": int(op["cin"]) // groups, "OY": 1, "OX": ox,
                "FY": 1, "FX": k, "S": s}
    oy, ox = (int(op["h"]) + 2 * p - k) // s + 1, (int(op["w"]) + 2 * p - k) // s + 1
    dims = {"B": 1, "G": groups, "K": int(op["cout"]) // groups, "C": int(op["cin"]) // groups, "OY": oy, "OX": ox,
            "FY": k, "FX": k, "S": s}
    return dims


def layer_key(op: OpSpec) -> str:
    """What ZigZag's result depends on (bias and padding only change the input size by a halo)."""
    return ",".join(f"{k}={v}" for k, v in _dims(op).items())


def zigzag_layer(op: OpSpec, index: int) -> dict[str, Any]:
    if op.kind not in ZIGZAG_KINDS:
        raise UnsupportedOpError(f"ZigZag path: op {op.key} is not a dense layer ({', '.join(ZIGZAG_KINDS)})")
    d = _dims(op)
    s = d["S"]
    relations = [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"]
    if d.get("G", 1) == 1:
        equation, loops = "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]", ["B", "K", "C", "OY", "OX", "FY", "FX"]
    elif d["K"] == 1 and d["C"] == 1:  # depthwise
        equation, loops = "O[b][g][oy][ox]+=W[g][fy][fx]*I[b][g][iy][ix]", ["B", "G", "OY", "OX", "FY", "FX"]
    else:
        equation = "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]"
        loops = ["B", "G", "K", "C", "OY", "OX", "FY", "FX"]
    return {"id": index, "name": f"L{index}", "operator_type": "Conv", "equation": equation,
            "dimension_relations": relations, "loop_dims": loops, "loop_sizes": [d[x] for x in loops],
            "operand_precision": {"W": WORD_BITS, "I": WORD_BITS, "O": PSUM_BITS, "O_final": WORD_BITS},
            "operand_source": {"I": index, "W": index}}


def spatial_unrolling(op: OpSpec, acc: Accelerator) -> dict[str, list[tuple[str, int]]]:
    """The dataflow as a spatial mapping: which loop dims go on the rows (D1) and columns (D2), each
    unrolled at most as far as the layer and the array allow."""
    d = _dims(op)
    rows, cols = acc.pe_rows, acc.pe_cols
    depthwise = d.get("G", 1) > 1 and d["K"] == 1 and d["C"] == 1
    channel_in = "G" if depthwise else "C"
    channel_out = "G" if depthwise else "K"
    pixels = "OX" if d["OX"] > 1 else "OY"
    if acc.dataflow == "ws":
        if depthwise:  # one channel's k×k weights per column group: rows take the filter taps
            d1 = [("FX", min(d["FX"], rows))]
            if rows // d["FX"] > 1:
                d1.append(("FY", min(d["FY"], rows // d["FX"])))
            return {"D1": d1, "D2": [("G", min(d["G"], cols))]}
        return {"D1": [(channel_in, min(d[channel_in], rows))], "D2": [(channel_out, min(d[channel_out], cols))]}
    if acc.dataflow == "os":
        return {"D1": [(pixels, min(d[pixels], rows))], "D2": [(channel_out, min(d[channel_out], cols))]}
    # rs: filter rows × input channels on the rows, output rows on the columns
    fy = min(d["FY"], rows)
    d1 = [("FY", fy)] if fy > 1 else []
    if rows // fy > 1:
        d1.append((channel_in, min(d[channel_in], rows // fy)))
    lines = "OY" if d["OY"] > 1 else "OX"
    return {"D1": d1 or [("FY", 1)], "D2": [(lines, min(d[lines], cols))]}


def mapping_yaml(ops: Sequence[OpSpec], acc: Accelerator) -> list[dict[str, Any]]:
    links = {"O": "O", "W": "I2", "I": "I1"}
    entries = [{"name": "default", "spatial_mapping": {"D1": ["K, 1"], "D2": ["C, 1"]}, "memory_operand_links": links}]
    for i, op in enumerate(ops):
        unroll = spatial_unrolling(op, acc)
        entries.append({"name": f"L{i}", "memory_operand_links": links,
                        "spatial_mapping": {dim: [f"{name}, {size}" for name, size in pairs] for dim, pairs in unroll.items()}})
    return entries


def run_zigzag(ops: Sequence[OpSpec], acc: Accelerator, lpf_limit: int = 6, opt: str = "latency") -> list[tuple[float, float]]:
    """(energy pJ, latency cycles) of each dense op on `acc`, by ZigZag (one run for the whole batch)."""
    if not ops:
        return []
    with tempfile.TemporaryDirectory(prefix="hwnas-zigzag-") as tmp:
        hw, mapping = Path(tmp) / "accelerator.yaml", Path(tmp) / "mapping.yaml"
        hw.write_text(yaml.safe_dump(accelerator_yaml(acc), sort_keys=False))
        mapping.write_text(yaml.safe_dump(mapping_yaml(ops, acc), sort_keys=False))
        return run_zigzag_files([zigzag_layer(op, i) for i, op in enumerate(ops)], hw, mapping, lpf_limit, opt)


def run_zigzag_files(layers: Sequence[dict[str, Any]], accelerator: Path, mapping: Path, lpf_limit: int = 6,
                     opt: str = "latency") -> list[tuple[float, float]]:
    """ZigZag's (energy pJ, latency cycles) per layer dict (`_layer` format) for accelerator and mapping
    YAML files: ZigZag's own stages, without its result files, logging silenced."""
    from zigzag.mapping.temporal_mapping import TemporalMappingType  # heavy (ZigZag, ~1 s): only the reference cost model runs it
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results.reduce_stages import MinimalEDPStage, MinimalEnergyStage, MinimalLatencyStage
    from zigzag.stages.workload_iterator import WorkloadStage

    reduce = {"latency": MinimalLatencyStage, "energy": MinimalEnergyStage, "EDP": MinimalEDPStage}[opt]
    quiet, root = logging.getLogger("zigzag"), logging.getLogger()
    levels = (quiet.level, root.level)
    quiet.setLevel(logging.ERROR)
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="hwnas-zigzag-out-") as tmp:
            stages = [WorkloadParserStage, AcceleratorParserStage, WorkloadStage, reduce, SpatialMappingGeneratorStage,
                      reduce, TemporalMappingGeneratorStage, CostModelStage]
            results = MainStage(stages, accelerator=str(accelerator), workload=list(layers), mapping=str(mapping),
                                loma_lpf_limit=lpf_limit, loma_show_progress_bar=False, nb_mappings_generated=1,
                                dump_folder=tmp, enable_mix_spatial_mapping_generation=False,
                                access_same_data_considered_as_no_access=True,
                                temporal_mapping_type=TemporalMappingType.UNEVEN).run()
    finally:
        quiet.setLevel(levels[0])
        root.setLevel(levels[1])
    by_layer = {layer.id: (float(cme.energy_total), float(cme.latency_total2)) for cme, (layer, _) in results}
    return [by_layer[layer["id"]] for layer in layers]
