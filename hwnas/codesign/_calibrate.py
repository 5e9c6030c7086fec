"""Fitting the roofline's dense-op costs to ZigZag: one energy and one latency factor per dataflow.

The factor is the geometric mean of ZigZag / roofline over the sampled (layer, accelerator) pairs, so
the fit is exact in scale and leaves the ranking to the roofline; the agreement (MAPE, Kendall τ) is
reported beside it, and `benchmarks/codesign.py` re-measures it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from hwnas.codesign._accelerator import DATAFLOWS, Accelerator
from hwnas.codesign._roofline import roofline_cost
from hwnas.codesign._spaces import accelerator_space
from hwnas.codesign._zigzag import ZIGZAG_KINDS, layer_key, run_zigzag
from hwnas.search_spaces import OpSpec, SearchSpace


def dense_ops(space: SearchSpace, n_archs: int, seed: int = 0) -> list[OpSpec]:
    """Distinct dense layers (by ZigZag layer shape) of `n_archs` random archs plus the min and max arch."""
    archs = [space.min_arch(), space.max_arch(), *(space.sample(seed * 1000 + i) for i in range(n_archs))]
    ops = {layer_key(op): op for arch in archs for op in space.ops(arch) if op.kind in ZIGZAG_KINDS}
    return list(ops.values())


def compare(ops: Sequence[OpSpec], accelerators: Sequence[Accelerator], lpf_limit: int = 3,
            progress: Any = None) -> list[dict[str, Any]]:
    """ZigZag and uncalibrated roofline figures of every (op, accelerator) pair."""
    rows = []
    for acc in accelerators:
        started = time.perf_counter()
        results = run_zigzag(ops, acc, lpf_limit)
        seconds = (time.perf_counter() - started) / max(1, len(ops))
        for op, (energy, cycles) in zip(ops, results):
            rl = roofline_cost(op, acc)
            rows.append({"dataflow": acc.dataflow, "hw_id": acc.id, "layer": layer_key(op), "macs": op.macs,
                         "zigzag_energy_pj": energy, "zigzag_cycles": cycles, "roofline_energy_pj": rl.energy_pj,
                         "roofline_cycles": rl.cycles, "zigzag_s_per_layer": seconds})
        if progress is not None:
            progress()
    return rows


def _agreement(truth: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    return {"mape": float(np.mean(np.abs(estimate / truth - 1))), "kendall_tau": float(kendalltau(truth, estimate).statistic)}


def fit_factors(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-dataflow factors and the calibrated roofline's agreement with ZigZag on the same rows."""
    factors, fit = {}, {}
    for dataflow in sorted({r["dataflow"] for r in rows}):
        part = [r for r in rows if r["dataflow"] == dataflow]
        ze, zc = np.array([r["zigzag_energy_pj"] for r in part]), np.array([r["zigzag_cycles"] for r in part])
        re_, rc = np.array([r["roofline_energy_pj"] for r in part]), np.array([r["roofline_cycles"] for r in part])
        fe, fl = float(np.exp(np.mean(np.log(ze / re_)))), float(np.exp(np.mean(np.log(zc / rc))))
        factors[dataflow] = {"energy": round(fe, 4), "latency": round(fl, 4)}
        fit[dataflow] = {"n": len(part), "energy": _agreement(ze, re_ * fe), "latency": _agreement(zc, rc * fl)}
    return {"factors": factors, "fit": fit}


def sample_accelerators(n_per_dataflow: int, seed: int = 0) -> list[Accelerator]:
    """Accelerators spread over the default accelerator space, `n_per_dataflow` of each dataflow."""
    space, rng = accelerator_space(), random.Random(seed)
    out = []
    for dataflow in DATAFLOWS:
        for _ in range(n_per_dataflow):
            config = dict(space.sample(rng))
            config["dataflow"] = dataflow
            out.append(Accelerator.from_config(config))
    return out


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def calibrate(space: SearchSpace, n_archs: int = 8, n_per_dataflow: int = 3, max_layers: int = 30, seed: int = 0,
              lpf_limit: int = 3, progress: Any = None) -> dict[str, Any]:
    """A calibration document (`calibration.json` format) from ZigZag runs on `space`'s dense layers."""
    ops = dense_ops(space, n_archs, seed)
    ops = random.Random(seed).sample(ops, min(max_layers, len(ops)))
    accelerators = sample_accelerators(n_per_dataflow, seed)
    started = time.perf_counter()
    rows = compare(ops, accelerators, lpf_limit, progress)
    fitted = fit_factors(rows)
    return {"format_version": 1, **fitted,
            "provenance": {"source": "hwnas.codesign.calibrate: ZigZag (zigzag-dse) vs the uncalibrated roofline",
                           "space": f"{space.name}/{space.preset}", "layers": len(ops), "accelerators": len(accelerators),
                           "lpf_limit": lpf_limit, "seed": seed, "seconds": round(time.perf_counter() - started, 1),
                           "zigzag_s_per_layer": round(float(np.mean([r["zigzag_s_per_layer"] for r in rows])), 4)}}
