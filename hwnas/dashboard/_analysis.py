"""What the experiment page computes from trials: bounds as a `--where` filter, the front under it,
and hypervolume as trials accumulate. Fronts come from `hwnas.search.pareto`, as `hwnas pareto`'s do."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import moocore
import numpy as np

from hwnas.dashboard._data import ExperimentData
from hwnas.search.pareto import minimisation_matrix, pareto_front, parse_where, running_reference

_NUMPY_OPS = {"<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater, "==": np.equal, "!=": np.not_equal}


def metric_range(data: ExperimentData, key: str) -> tuple[float, float] | None:
    """The finite range of a metric over the trials, or None if no trial has it."""
    values = data.columns[key]
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else None


def bounds_where(data: ExperimentData, bounds: Mapping[str, Sequence[float] | None]) -> str:
    """Slider bounds as a `hwnas pareto --where` filter; a bound at the data's own end adds no clause."""
    clauses = []
    for key, bound in bounds.items():
        full = metric_range(data, key)
        if not bound or full is None:
            continue
        low, high = float(bound[0]), float(bound[1])
        span = full[1] - full[0]
        if low > full[0] + 1e-9 * span:
            clauses.append(f"{key} >= {low:.6g}")
        if high < full[1] - 1e-9 * span:
            clauses.append(f"{key} <= {high:.6g}")
    return " and ".join(clauses)


def where_mask(data: ExperimentData, where: str) -> np.ndarray:
    """Trials that pass `where`, with `pareto_front`'s meaning (a trial lacking the metric fails)."""
    mask = np.ones(len(data.rows), dtype=bool)
    for key, op, value in parse_where(where, data.metric_keys):
        with np.errstate(invalid="ignore"):
            mask &= _NUMPY_OPS[op](data.columns[key], value)
    return mask


@dataclass(frozen=True)
class FrontQuery:
    """A front over `keys` under `where`, and the command line that prints the same trials."""

    keys: list[str]
    where: str
    numbers: list[int]
    cli: str | None  # None when a key is not an objective (`hwnas pareto` fronts objectives only)


def front(data: ExperimentData, keys: Sequence[str], where: str = "") -> FrontQuery:
    keys = list(dict.fromkeys(keys))
    rows = pareto_front(data.rows, keys, [data.direction(k) for k in keys], where or None)
    first = keys[0]
    rows.sort(key=lambda r: r.metrics.get(first, 0.0))
    cli = None
    if all(k in data.objective_keys for k in keys):
        cli = f"hwnas pareto --experiment {shlex.quote(data.name)} --objectives {','.join(keys)}"
        cli += f" --where {shlex.quote(where)}" if where else ""
    return FrontQuery(keys, where, [r.number for r in rows], cli)


def hypervolume_history(data: ExperimentData, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Hypervolume of the feasible trials finished up to each trial number (at most `points` steps),
    over all objectives, w.r.t. one reference point: the one `ExperimentData.hypervolume` uses."""
    keys, directions = data.objective_keys, data.directions
    usable = [r for r in data.rows if r.state == "COMPLETE" and r.feasible and all(k in r.metrics for k in keys)]
    if not usable or not keys:
        return np.array([], dtype=int), np.array([], dtype=float)
    reference = np.asarray(running_reference(data.rows, keys, directions), dtype=float)
    values = minimisation_matrix(usable, keys, directions)
    numbers = np.array([r.number for r in usable])
    ends = np.unique(np.linspace(0, len(usable), min(points, len(usable)) + 1).astype(int)[1:])
    front = np.empty((0, len(keys)))
    history, start = [], 0
    for end in ends:
        batch = values[start:end]
        candidates = np.vstack([front, batch[np.all(batch < reference, axis=1)]])
        front = candidates[moocore.is_nondominated(candidates)] if len(candidates) else candidates
        history.append(float(moocore.hypervolume(front, ref=reference)) if len(front) else 0.0)
        start = end
    return numbers[ends - 1], np.array(history)
