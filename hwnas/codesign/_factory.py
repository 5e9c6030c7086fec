"""From a spec's `hardware:` block to a hardware space and the evaluators of its metrics.

`hardware: {kind: accelerator | deployment, options: {...}}`. Options:
- both kinds: `choices: {name: [values]}` narrows or pins choices (`dataflow: [ws]`);
- accelerator: `cost_model: roofline | zigzag` (default roofline, see `_cost`), `lpf_limit` (ZigZag's);
- deployment: `warmup`, `repeats` (timing), `lock_timeout_s`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwnas.codesign._deploy import DeploymentRunner
from hwnas.errors import InvalidHardwareError
from hwnas.codesign._evaluators import (
    AcceleratorEvaluator, DeploymentAccuracyEvaluator, DeploymentLatencyEvaluator, HardwareEvaluator,
)
from hwnas.codesign._space import HardwareSpace
from hwnas.codesign._spaces import hardware_space
from hwnas.search_spaces import SearchSpace

OPTIONS = {"accelerator": ("choices", "cost_model", "lpf_limit"), "deployment": ("choices", "warmup", "repeats", "lock_timeout_s")}
METRIC_KIND = {"energy_mj": "accelerator", "accel_latency_ms": "accelerator", "area_mm2": "accelerator",
               "deploy_latency_ms": "deployment", "deploy_accuracy": "deployment"}


def space_from_options(kind: str, options: Mapping[str, Any]) -> HardwareSpace:
    allowed = OPTIONS.get(kind)
    if allowed is None:
        raise InvalidHardwareError(f"hardware kind {kind!r} is not one of {list(OPTIONS)}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidHardwareError(f"{kind} hardware has no option {unknown[0]!r}; options: {', '.join(allowed)}")
    choices = options.get("choices") or {}
    if not isinstance(choices, Mapping):
        raise InvalidHardwareError(f"{kind} hardware option 'choices' must map choice names to value lists")
    return hardware_space(kind, choices)


def make_evaluator(metric: str, kind: str | None, options: Mapping[str, Any], space: SearchSpace,
                   supernet_dir: str | None = None) -> HardwareEvaluator:
    """The evaluator of a hardware `metric` for a spec's hardware block (`kind` None: the spec has none)."""
    needed = METRIC_KIND[metric]
    if kind != needed:
        got = f"kind {kind!r}" if kind else "no hardware block"
        raise InvalidHardwareError(f"metric {metric!r} needs `hardware: {{kind: {needed}}}` in the spec, got {got}")
    hardware = space_from_options(kind, options)
    if kind == "accelerator":
        extra = {"lpf_limit": int(options["lpf_limit"])} if "lpf_limit" in options else {}
        return AcceleratorEvaluator(space, hardware, str(options.get("cost_model", "roofline")), **extra)
    timing = {k: options[k] for k in ("warmup", "repeats", "lock_timeout_s") if k in options}
    if metric == "deploy_accuracy":
        if supernet_dir is None:
            raise InvalidHardwareError("metric 'deploy_accuracy' needs a trained supernet (spec key supernet: DIR)")
        return DeploymentAccuracyEvaluator(space, hardware, DeploymentRunner(space, supernet_dir, **timing))
    return DeploymentLatencyEvaluator(space, hardware, DeploymentRunner(space, supernet_dir, **timing))
