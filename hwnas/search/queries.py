"""The front and trial queries behind `hwnas pareto`, `hwnas trials` and the dashboard's JSON API."""

from __future__ import annotations

from typing import Any

from hwnas.search.pareto import pareto_front, resolve_objectives, trial_rows
from hwnas.search.storage import load_study, open_storage


def front_rows(storage_url: str, experiment: str, objectives: str | list[str] | None = None,
               where: str | None = None) -> list[dict[str, Any]]:
    """Non-dominated feasible trials as JSON-ready rows (with their `hwnas extract` command)."""
    study = load_study(open_storage(storage_url, read_only=True), experiment)
    names = [o.strip() for o in objectives.split(",") if o.strip()] if isinstance(objectives, str) else objectives
    keys, directions = resolve_objectives(study, names)
    front = pareto_front(trial_rows(study), keys, directions, where)
    first = keys[0] if keys else None
    front.sort(key=lambda r: r.metrics.get(first, 0.0) if first else r.number)
    return [row.to_dict(experiment, storage_url) for row in front]


def all_rows(storage_url: str, experiment: str) -> list[dict[str, Any]]:
    study = load_study(open_storage(storage_url, read_only=True), experiment)
    return [row.to_dict(experiment, storage_url) for row in trial_rows(study)]
