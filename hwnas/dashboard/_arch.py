"""What the dashboard shows about one trial: its arch layer by layer, params and FLOPs, latencies with
the validation figures of the profiles that predicted them, and the command that extracts it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from hwnas.dashboard._data import ExperimentData
from hwnas.errors import HwnasError
from hwnas.evaluators import CountEvaluator
from hwnas.hw_profiles import PROFILES_DIR, load_profile, shipped_profile_names
from hwnas.search.pareto import TrialRow, extract_command
from hwnas.search_spaces import Arch, get_space


@dataclass(frozen=True)
class LayerSeries:
    """One per-layer choice (`heads`, `attn`, ...) of one stack of layers (`layers`, `decoder_layers`)."""

    name: str
    stack: str
    values: list[Any]

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)


@dataclass(frozen=True)
class LatencyFact:
    key: str
    device: str
    value_ms: float
    source: str  # "predicted" (a shipped profile of that name), "measured" (local-*), or "unknown"
    validation: dict[str, float] = field(default_factory=dict)
    #: Op-level predictions: the share of the ms priced by composition or extrapolation rather than measured.
    unmeasured: float | None = None


@dataclass(frozen=True)
class TrialDetails:
    number: int
    state: str
    arch_id: str
    feasible: bool
    global_choices: dict[str, Any]
    layers: list[LayerSeries]
    params_m: float | None
    flops_m: float | None
    counts_source: str  # "trial" (stored metrics), "ops" (counted here from the space), or "" (unknown)
    latencies: list[LatencyFact]
    metrics: dict[str, float]
    extract: str
    problem: str | None = None  # why the arch could not be checked against its space
    hardware: dict[str, Any] = field(default_factory=dict)  # co-design: the trial's hardware choice (with hw_id)
    surrogate: dict[str, Any] = field(default_factory=dict)  # a surrogate search's pick: what it expected, per metric


def trial_details(data: ExperimentData, row: TrialRow) -> TrialDetails:
    if not row.arch:  # rows are read without their archs where the storage can read one on demand
        row = replace(row, arch=(data.row_with_arch(row.number) or row).arch)
    space_spec = data.spec.get("space", {})
    space, problem = _space(space_spec.get("name"), space_spec.get("preset"), json.dumps(space_spec.get("options", {}), sort_keys=True))
    if space is not None:
        try:
            space.validate(row.arch)
        except HwnasError as exc:
            problem, space = f"arch is not a point of {space_spec.get('name')}/{space_spec.get('preset')}: {exc}", None
    stacks = _stacks(space)
    layers = [LayerSeries(name, stacks.get(name, f"{len(value)} layers"), list(value))
              for name, value in row.arch.items() if isinstance(value, (list, tuple))]
    global_choices = {name: value for name, value in row.arch.items() if not isinstance(value, (list, tuple))}
    params, flops, source = row.metrics.get("params_m"), row.metrics.get("flops_m"), "trial"
    if (params is None or flops is None) and space is not None:
        counted = _counts(space, row)
        params, flops, source = params if params is not None else counted["params_m"], flops if flops is not None else counted["flops_m"], "ops"
    latencies = [_latency(key, value, row.metrics.get(key.replace("latency_ms@", "latency_unmeasured@", 1)))
                 for key, value in row.metrics.items() if key.startswith("latency_ms@")]
    return TrialDetails(row.number, row.state, row.arch_id, row.feasible, global_choices, layers, params, flops,
                        source if params is not None else "", latencies, dict(row.metrics), extract_command(data.name, row.number, data.storage_url), problem,
                        dict(row.hardware), dict(row.surrogate))


@lru_cache(maxsize=16)
def _space(name: str | None, preset: str | None, options_json: str) -> tuple[Any, str | None]:
    if not name:
        return None, "the experiment's spec names no space"
    try:
        return get_space(name, preset, **json.loads(options_json)), None
    except (HwnasError, TypeError) as exc:
        return None, f"space {name}/{preset} is not available here: {exc}"


def _stacks(space: Any) -> dict[str, str]:
    """Per-layer choice → the depth choice it follows, from the space's declaration."""
    if space is None:
        return {}
    return {name: decl.depth for name, decl in space.choices.items() if hasattr(decl, "depth")}


def _counts(space: Any, row: TrialRow) -> dict[str, float]:
    return CountEvaluator(space).evaluate([Arch(row.arch)])[0]


def _latency(key: str, value: float, unmeasured: float | None = None) -> LatencyFact:
    device = key.partition("@")[2]
    validation = profile_validation(device)
    if validation is not None:
        return LatencyFact(key, device, value, "predicted", validation, unmeasured)
    return LatencyFact(key, device, value, "measured" if device.startswith("local-") else "unknown")


@lru_cache(maxsize=64)
def profile_validation(device: str) -> dict[str, float] | None:
    """Held-out validation figures of the shipped profile named `device`, or None if there is none.
    Only shipped names are looked up: a device name from storage never becomes a path."""
    if device not in shipped_profile_names():
        return None
    try:
        profile = load_profile(PROFILES_DIR / device)
    except HwnasError:
        return None
    return {k: float(v) for k, v in profile.metrics.items() if isinstance(v, (int, float))}
