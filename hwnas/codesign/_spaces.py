"""The two hardware spaces: accelerator parameters and deployment knobs, with their defaults.

`choices` narrows or replaces the values of named choices (a single value pins it, which is how a
fixed-accelerator search is written). Both are entries of `HARDWARE_KINDS` (see `_factory`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwnas.codesign._accelerator import DATAFLOWS, Accelerator
from hwnas.codesign._space import HardwareConfig, HardwareSpace
from hwnas.errors import InvalidHardwareError
from hwnas.search_spaces import Choice

ACCELERATOR_CHOICES: dict[str, list[Any]] = {
    "pe_rows": [8, 16, 32],
    "pe_cols": [8, 16, 32],
    "rf_bytes": [16, 64, 256],
    "sram_kb": [16, 64, 256],
    "dram_gbps": [2.0, 8.0, 32.0],
    "dataflow": list(DATAFLOWS),
    "clock_mhz": [500.0],
}
DEPLOYMENT_CHOICES: dict[str, list[Any]] = {
    "threads": [1, 2],
    "runtime": ["torch", "onnxruntime"],
    "precision": ["fp32", "int8"],
}


def _declaration(kind: str, defaults: Mapping[str, list[Any]], choices: Mapping[str, Any] | None) -> list[Choice]:
    choices = dict(choices or {})
    unknown = sorted(set(choices) - set(defaults))
    if unknown:
        raise InvalidHardwareError(f"{kind} hardware: unknown choice {unknown[0]!r}; choices are: {', '.join(defaults)}")
    out = []
    for name, values in defaults.items():
        given = choices.get(name, values)
        given = list(given) if isinstance(given, (list, tuple)) else [given]
        if not given:
            raise InvalidHardwareError(f"{kind} hardware: choice {name!r} needs at least one value")
        out.append(Choice(name, given))
    return out


def _check_accelerator(config: HardwareConfig) -> Accelerator:
    return Accelerator.from_config(config)


def _check_deployment(config: HardwareConfig) -> None:
    for name, allowed in (("runtime", DEPLOYMENT_CHOICES["runtime"]), ("precision", DEPLOYMENT_CHOICES["precision"])):
        if config[name] not in allowed:
            raise InvalidHardwareError(f"hardware field {name!r} = {config[name]!r} is not one of {allowed}")
    threads = config["threads"]
    if not isinstance(threads, int) or isinstance(threads, bool) or threads <= 0:
        raise InvalidHardwareError(f"hardware field 'threads' must be a positive integer, got {threads!r}")


def accelerator_space(choices: Mapping[str, Sequence[Any]] | None = None) -> HardwareSpace:
    """PE array, register file, SRAM, DRAM bandwidth and dataflow; every config passes `Accelerator.from_config`."""
    return HardwareSpace("accelerator", _declaration("accelerator", ACCELERATOR_CHOICES, choices), _check_accelerator)


def deployment_space(choices: Mapping[str, Sequence[Any]] | None = None) -> HardwareSpace:
    """Threads, runtime (torch eager / ONNX Runtime) and precision (fp32 / int8 dynamic quantization) on this CPU."""
    return HardwareSpace("deployment", _declaration("deployment", DEPLOYMENT_CHOICES, choices), _check_deployment)
