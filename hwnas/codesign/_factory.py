"""Hardware kinds (`HARDWARE_KINDS`) and the way from a spec's `hardware:` block to a space and evaluators.

`hardware: {kind: accelerator | deployment, options: {...}}`. Each kind is one registry entry that knows
its space, its allowed options and the metrics it serves; everything else (`METRIC_KIND`, the allowed
names in errors) is read from the registry. Options:
- both kinds: `choices: {name: [values]}` narrows or pins choices (`dataflow: [ws]`);
- accelerator: `cost_model: roofline | zigzag` (default roofline, see `_cost`), `lpf_limit` (ZigZag's);
- deployment: `warmup`, `repeats` (timing), `lock_timeout_s`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwnas.codesign._evaluators import (
    ACCELERATOR_METRICS, DEPLOY_ACCURACY, DEPLOY_LATENCY, AcceleratorEvaluator, DeploymentAccuracyEvaluator,
    DeploymentLatencyEvaluator, HardwareEvaluator,
)
from hwnas.codesign._space import HardwareSpace
from hwnas.codesign._spaces import accelerator_space, deployment_space
from hwnas.errors import InvalidHardwareError, UnknownNameError
from hwnas.registry import Registry
from hwnas.search_spaces import SearchSpace

#: (metric, spec options, arch space, hardware space, supernet dir) → the metric's evaluator.
EvaluatorFactory = Callable[[str, Mapping[str, Any], SearchSpace, HardwareSpace, "str | None"], HardwareEvaluator]


@dataclass(frozen=True)
class HardwareKind:
    """One kind of hardware a spec can search: its space, the spec options it takes, the metrics it serves."""

    space: Callable[[Mapping[str, Sequence[Any]] | None], HardwareSpace]
    options: tuple[str, ...]
    metrics: tuple[str, ...]
    evaluator: EvaluatorFactory
    one_evaluator: bool = True  # one evaluator computes all its metrics at once (else one per metric)

    def source(self, name: str, metric: str) -> str:
        """The evaluator a metric shares with others (`hwnas.search.objectives` builds one per source)."""
        return name if self.one_evaluator else metric


def _accelerator_evaluator(metric: str, options: Mapping[str, Any], space: SearchSpace, hardware: HardwareSpace,
                           supernet_dir: str | None) -> HardwareEvaluator:
    extra = {"lpf_limit": int(options["lpf_limit"])} if "lpf_limit" in options else {}
    return AcceleratorEvaluator(space, hardware, str(options.get("cost_model", "roofline")), **extra)


def _deployment_evaluator(metric: str, options: Mapping[str, Any], space: SearchSpace, hardware: HardwareSpace,
                          supernet_dir: str | None) -> HardwareEvaluator:
    from hwnas.codesign._deploy import DeploymentRunner  # torch: only a spec that deploys loads it

    timing = {k: options[k] for k in ("warmup", "repeats", "lock_timeout_s") if k in options}
    if metric == DEPLOY_ACCURACY:
        if supernet_dir is None:
            raise InvalidHardwareError("metric 'deploy_accuracy' needs a trained supernet (spec key supernet: DIR)")
        if space.io.is_detection:
            raise InvalidHardwareError(f"metric 'deploy_accuracy' scores classifiers; {space.label} is a detector "
                                       "(score it by map / map50)")
        return DeploymentAccuracyEvaluator(space, hardware, DeploymentRunner(space, supernet_dir, **timing))
    return DeploymentLatencyEvaluator(space, hardware, DeploymentRunner(space, supernet_dir, **timing))


HARDWARE_KINDS: Registry[HardwareKind] = Registry("hardware kind")
HARDWARE_KINDS.register("accelerator", HardwareKind(accelerator_space, ("choices", "cost_model", "lpf_limit"),
                                                    ACCELERATOR_METRICS, _accelerator_evaluator),
                        summary="PE array, register file, SRAM, DRAM bandwidth and dataflow of a modelled accelerator")
HARDWARE_KINDS.register("deployment", HardwareKind(deployment_space, ("choices", "warmup", "repeats", "lock_timeout_s"),
                                                   (DEPLOY_LATENCY, DEPLOY_ACCURACY), _deployment_evaluator, one_evaluator=False),
                        summary="threads, runtime and precision of a subnet deployed on this CPU")

#: Metric → the hardware kind that serves it (derived from `HARDWARE_KINDS`).
METRIC_KIND: dict[str, str] = {metric: name for name, kind in HARDWARE_KINDS.items() for metric in kind.metrics}


def hardware_kind(kind: str) -> HardwareKind:
    """The registered kind; an unknown one raises `InvalidHardwareError` listing the known kinds."""
    try:
        return HARDWARE_KINDS.get(kind)
    except UnknownNameError as exc:
        raise InvalidHardwareError(str(exc)) from None


def hardware_space(kind: str, choices: Mapping[str, Sequence[Any]] | None = None) -> HardwareSpace:
    """The hardware space of `kind` with `choices` applied; raises `InvalidHardwareError`."""
    return hardware_kind(kind).space(choices)


def space_from_options(kind: str, options: Mapping[str, Any]) -> HardwareSpace:
    """The hardware space of a spec's `hardware:` block; raises `InvalidHardwareError` naming a bad option."""
    allowed = hardware_kind(kind).options
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidHardwareError(f"{kind} hardware has no option {unknown[0]!r}; options: {', '.join(allowed)}")
    choices = options.get("choices") or {}
    if not isinstance(choices, Mapping):
        raise InvalidHardwareError(f"{kind} hardware option 'choices' must map choice names to value lists")
    return hardware_space(kind, choices)


def make_evaluator(metric: str, kind: str | None, options: Mapping[str, Any], space: SearchSpace,
                   supernet_dir: str | None = None) -> HardwareEvaluator:
    """The evaluator of a hardware `metric` for a spec's hardware block (`kind` None: the spec has none).

    Raises `InvalidHardwareError` when the spec's kind does not serve the metric or an option is bad.
    """
    if metric not in METRIC_KIND:
        raise InvalidHardwareError(f"unknown hardware metric {metric!r}; choose one of: {', '.join(sorted(METRIC_KIND))}")
    needed = METRIC_KIND[metric]
    if kind != needed:
        got = f"kind {kind!r}" if kind else "no hardware block"
        raise InvalidHardwareError(f"metric {metric!r} needs `hardware: {{kind: {needed}}}` in the spec, got {got}")
    hardware = space_from_options(kind, options)
    return HARDWARE_KINDS.get(kind).evaluator(metric, options, space, hardware, supernet_dir)
