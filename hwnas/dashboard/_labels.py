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


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for a table cell: 4 significant digits, thousands kept whole."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"
