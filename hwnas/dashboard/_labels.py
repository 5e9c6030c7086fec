"""Human labels for metric keys: the unit suffix of a key (rule 6 of STYLE.md) becomes the axis unit."""

from __future__ import annotations

import math

_UNITS = {"ms": "ms", "s": "s", "m": "M", "g": "G", "k": "k", "mj": "mJ", "j": "J", "mw": "mW", "w": "W", "mm2": "mm²",
          "mb": "MB", "kb": "KB", "pct": "%"}
_NAMES = {"params": "params", "flops": "FLOPs", "macs": "MACs", "naswot": "NASWOT score (proxy)",
          "latency": "latency", "energy": "energy", "area": "area", "accuracy": "accuracy", "memory": "memory"}


def metric_label(key: str, direction: str | None = None) -> str:
    """`latency_ms@pixel4` → `latency on pixel4 (ms)`; with a direction, an arrow for which way is better."""
    metric, _, device = key.partition("@")
    name, unit = metric, None
    if "_" in metric:
        stem, suffix = metric.rsplit("_", 1)
        if suffix in _UNITS:
            name, unit = stem, _UNITS[suffix]
    text = _NAMES.get(name, name.replace("_", " "))
    if device:
        text += f" on {device}"
    if unit:
        text += f" ({unit})"
    if direction:
        text += " ↓" if direction == "minimize" else " ↑"
    return text


def hardware_label(hardware: dict) -> str:
    """A trial's hardware choice in one short line: `ws 16×16 PEs · RF 64 B · SRAM 64 KB · DRAM 8 GB/s` for an
    accelerator, `threads 2 · onnxruntime · int8` for deployment knobs, `name value` pairs otherwise."""
    hw = {k: v for k, v in hardware.items() if k != "hw_id"}
    if {"pe_rows", "pe_cols", "dataflow"} <= set(hw):
        text = f"{hw['dataflow']} {hw['pe_rows']}×{hw['pe_cols']} PEs"
        for key, name, unit in (("rf_bytes", "RF", "B"), ("sram_kb", "SRAM", "KB"), ("dram_gbps", "DRAM", "GB/s")):
            if key in hw:
                text += f" · {name} {fmt(hw[key])} {unit}"
        return text
    if {"threads", "runtime", "precision"} <= set(hw):
        return f"threads {hw['threads']} · {hw['runtime']} · {hw['precision']}"
    return " · ".join(f"{k} {v}" for k, v in sorted(hw.items()))


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for a table cell: 4 significant digits, thousands kept whole."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"
