"""`AcceleratorCostModel`: energy (mJ), latency (ms) and area (mm²) of an (arch, accelerator) pair.

Two backends over the arch's `ops()`: `roofline` (the search default; dense ops scaled by the factors
fitted to ZigZag in `calibration.json`) and `zigzag` (the reference: dense ops by ZigZag, every other op
by the uncalibrated roofline, see `_roofline`). Results are cached by (arch id, accelerator id), ZigZag's
per-layer results by (layer shape, accelerator id).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from hwnas.codesign._accelerator import Accelerator
from hwnas.codesign._area import area_mm2
from hwnas.codesign._roofline import PRICED_KINDS, OpCost, roofline_cost
from hwnas.codesign._zigzag import ZIGZAG_KINDS, layer_key, run_zigzag
from hwnas.errors import HwnasError, UnsupportedOpError
from hwnas.search_spaces import Arch, OpSpec, SearchSpace

BACKENDS = ("roofline", "zigzag")
CALIBRATION_FORMAT = 1


def load_calibration(path: Any = None) -> dict[str, dict[str, float]]:
    """Per-dataflow factors {energy, latency} that bring the roofline's dense ops to ZigZag's figures."""
    source = resources.files("hwnas.codesign") / "calibration.json" if path is None else Path(path)
    try:
        data = json.loads(source.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HwnasError(f"calibration file {source}: unreadable ({exc})") from None
    if data.get("format_version") != CALIBRATION_FORMAT:
        raise HwnasError(f"calibration file: format_version {data.get('format_version')!r}, expected {CALIBRATION_FORMAT}")
    return data["factors"]


class AcceleratorCostModel:
    """Prices `space`'s archs on accelerators; `cost(arch, acc)` → {energy_mj, accel_latency_ms, area_mm2}."""

    def __init__(self, space: SearchSpace, backend: str = "roofline", input_shape: Sequence[int] | None = None,
                 calibration: Mapping[str, Mapping[str, float]] | None = None, lpf_limit: int = 3) -> None:
        if backend not in BACKENDS:
            raise HwnasError(f"cost model backend {backend!r} is not one of {list(BACKENDS)}")
        self.space, self.backend, self.lpf_limit = space, backend, lpf_limit
        self.input_shape = tuple(input_shape or space.default_input_shape)
        self.calibration = dict(calibration) if calibration is not None else load_calibration()
        self._cache: dict[tuple[str, str], dict[str, float]] = {}
        self._zigzag: dict[tuple[str, str], OpCost] = {}

    def cost(self, arch: Arch, acc: Accelerator) -> dict[str, float]:
        key = (arch.id, acc.id)
        if key not in self._cache:
            costs = self.op_costs(self.space.ops(arch, self.input_shape), acc)
            energy_pj = sum(c.energy_pj for c in costs)
            cycles = sum(c.cycles for c in costs)
            self._cache[key] = {"energy_mj": energy_pj * 1e-9, "accel_latency_ms": cycles / (acc.clock_mhz * 1e3),
                                "area_mm2": area_mm2(acc)}
        return dict(self._cache[key])

    def prime(self, arch_id: str, hw_id: str, values: Mapping[str, float]) -> None:
        if all(k in values for k in ("energy_mj", "accel_latency_ms", "area_mm2")):
            self._cache[(arch_id, hw_id)] = {k: float(values[k]) for k in ("energy_mj", "accel_latency_ms", "area_mm2")}

    def op_costs(self, ops: Sequence[OpSpec], acc: Accelerator) -> list[OpCost]:
        """Cost of each op; an op kind no model prices raises `UnsupportedOpError` before anything runs."""
        unpriced = [op for op in ops if op.kind not in PRICED_KINDS]
        if unpriced:
            raise UnsupportedOpError(f"no cost model prices op {unpriced[0].key}; priced kinds: {', '.join(PRICED_KINDS)}")
        if self.backend == "zigzag":
            self._run_zigzag([op for op in ops if op.kind in ZIGZAG_KINDS], acc)
            return [self._zigzag[(layer_key(op), acc.id)] if op.kind in ZIGZAG_KINDS else roofline_cost(op, acc) for op in ops]
        factors = self.calibration.get(acc.dataflow, {"energy": 1.0, "latency": 1.0})
        out = []
        for op in ops:
            c = roofline_cost(op, acc)
            if op.kind in ZIGZAG_KINDS:
                c = OpCost(c.energy_pj * factors["energy"], c.cycles * factors["latency"])
            out.append(c)
        return out

    def _run_zigzag(self, ops: Sequence[OpSpec], acc: Accelerator) -> None:
        todo = list({layer_key(op): op for op in ops if (layer_key(op), acc.id) not in self._zigzag}.values())
        for op, (energy, cycles) in zip(todo, run_zigzag(todo, acc, self.lpf_limit)):
            self._zigzag[(layer_key(op), acc.id)] = OpCost(energy, cycles)
