"""The subnet of a stored trial, as the `SubnetSource` that `hwnas.export` extracts (a search-layer job:
export takes an arch and never opens a study)."""

from __future__ import annotations

from hwnas.errors import ExportError
from hwnas.export import SubnetSource
from hwnas.search import schema
from hwnas.search.storage import load_study, open_storage, redact


def trial_source(storage_url: str, experiment: str, trial_number: int) -> SubnetSource:
    """Trial `trial_number` of `experiment` in the storage; raises `UnknownNameError` for an unknown
    experiment and `ExportError` for a trial that is not in it or recorded no architecture."""
    study = load_study(open_storage(storage_url, read_only=True), experiment)
    if schema.SPEC not in study.user_attrs:
        raise ExportError(f"experiment {experiment!r} in {redact(storage_url)} was not made by `hwnas run` (no {schema.SPEC})")
    spec = schema.study_spec(study.user_attrs)
    trials = study.get_trials(deepcopy=False)
    found = [t for t in trials if t.number == trial_number]
    if not found:
        known = f"trials 0-{max(t.number for t in trials)}" if trials else "no trials yet"
        raise ExportError(f"trial {trial_number} is not in experiment {experiment!r} ({known})")
    trial, stored = found[0], schema.TrialRecord.of(found[0].user_attrs)
    if not stored.arch:
        raise ExportError(f"trial {trial_number} of experiment {experiment!r} recorded no architecture "
                          f"(state {trial.state.name})")
    task = spec.get("task")
    return SubnetSource(
        space=spec["space"]["name"], preset=spec["space"].get("preset"), space_options=dict(spec["space"].get("options") or {}),
        arch=stored.arch,
        origin={"experiment": experiment, "trial": trial_number, "storage": storage_url, "state": trial.state.name,
                "feasible": trial.user_attrs.get(schema.FEASIBLE)},
        supernet=spec.get("supernet"), seed=int(spec.get("seed", 0)),
        task={"name": task["name"], "options": dict(task.get("options") or {})} if task else None,
        metrics=stored.metrics, hardware=stored.hardware or None,
    )
