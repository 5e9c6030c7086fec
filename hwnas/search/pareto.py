"""Trial rows, Pareto fronts and hypervolume over stored trials (non-domination and HV from moocore)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import moocore
import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from hwnas._defaults import DEFAULT_STORAGE
from hwnas.errors import QueryError, shown
from hwnas.search import schema
from hwnas.search.schema import TrialRecord, objective_keys
from hwnas.search.storage import redact


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str
    arch_id: str
    arch: dict[str, Any]
    metrics: dict[str, float]
    feasible: bool
    hardware: dict[str, Any] = field(default_factory=dict)
    #: A surrogate search's pick: what its surrogate expected, per modelled metric {"mean", "std"}.
    surrogate: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_trial(cls, trial: FrozenTrial) -> TrialRow:
        stored = TrialRecord.of(trial.user_attrs)
        return cls(trial.number, trial.state.name, stored.arch_id, stored.arch, stored.metrics, stored.feasible, stored.hardware,
                   dict(trial.user_attrs.get(schema.SURROGATE) or {}))

    def to_dict(self, experiment: str | None = None, storage: str | None = None) -> dict[str, Any]:
        row: dict[str, Any] = {"trial": self.number, "state": self.state, "arch_id": self.arch_id, "feasible": self.feasible,
                               **self.metrics, "arch": self.arch}
        if self.hardware:
            row["hardware"] = self.hardware
        if self.surrogate:
            row["surrogate"] = self.surrogate
        if experiment is not None:
            row["extract"] = extract_command(experiment, self.number, storage)
        return row


def extract_command(experiment: str, trial: int, storage: str | None = None) -> str:
    """The command that writes this trial's subnet; names the storage unless it is the default one (a password
    in its URL as `***`: keep it in PGPASSWORD or ~/.pgpass instead)."""
    where = f" --storage {redact(storage)}" if storage and storage != DEFAULT_STORAGE else ""
    return f"hwnas extract --experiment {experiment} --trial {trial}{where} --out subnets/{experiment}-{trial}"


def trial_rows(study: optuna.Study) -> list[TrialRow]:
    """Finished trials (complete, or stopped early as infeasible), oldest first."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return [TrialRow.from_trial(t) for t in trials]


#: One clause with its blanks already collapsed to single spaces: no run of blanks for the regex to backtrack over.
_CLAUSE = re.compile(r"(?P<key>[A-Za-z_][\w.-]*(?:@[\w.:/~-]+)?) ?(?P<op><=|>=|==|!=|<|>) ?(?P<value>[-+0-9.eE]+)")
_OPS = {"<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater, "==": np.equal, "!=": np.not_equal}
#: The longest filter accepted (`--where`, `?where=`); far above any real one, and it bounds a request's work.
MAX_WHERE_CHARS = 4096


def parse_where(expr: str | None, known: Sequence[str]) -> list[tuple[str, str, float]]:
    """`"latency_ms@pixel4 <= 20 and params_m < 1"` → clauses; never evaluated as code.

    Linear in the filter's length: it is split into blank-separated words once, and clauses are the words
    between `and`s. Raises `QueryError` for a filter over `MAX_WHERE_CHARS`, an empty or malformed clause,
    an unknown metric or a value that is not a number.
    """
    if expr is not None and len(expr) > MAX_WHERE_CHARS:
        raise QueryError(f"filter is {len(expr):,} characters long; the limit is {MAX_WHERE_CHARS:,}")
    if not expr or not expr.strip():
        return []
    parts: list[list[str]] = [[]]
    for word in expr.split():
        if word == "and":
            parts.append([])
        else:
            parts[-1].append(word)
    clauses = []
    for words in parts:
        if not words:
            raise QueryError("filter has an empty clause: 'and' needs a clause on each side (e.g. 'params_m < 1 and flops_m < 5')")
        part = " ".join(words)
        match = _CLAUSE.fullmatch(part)
        if not match:
            raise QueryError(f"filter clause {shown(part)} must look like 'latency_ms@pixel4 <= 20' (clauses joined by 'and')")
        if match["key"] not in known:
            raise QueryError(f"filter names unknown metric {shown(match['key'])}; known: {', '.join(known)}")
        try:
            value = float(match["value"])
        except ValueError:
            raise QueryError(f"filter value {shown(match['value'])} is not a number") from None
        clauses.append((match["key"], match["op"], value))
    return clauses


def _matches(row: TrialRow, clauses: list[tuple[str, str, float]]) -> bool:
    return all(key in row.metrics and bool(_OPS[op](row.metrics[key], value)) for key, op, value in clauses)


def minimisation_matrix(rows: Sequence[TrialRow], keys: Sequence[str], directions: Sequence[str]) -> np.ndarray:
    """Objective values with maximised objectives negated, one row per trial."""
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.array([[row.metrics[k] for k in keys] for row in rows], dtype=float).reshape(len(rows), len(keys)) * signs


def pareto_front(rows: Sequence[TrialRow], keys: Sequence[str], directions: Sequence[str],
                 where: str | None = None) -> list[TrialRow]:
    """Feasible, complete trials passing `where` that no other such trial dominates."""
    known = sorted({k for r in rows for k in r.metrics})
    clauses = parse_where(where, known)
    candidates = [r for r in rows if r.state == "COMPLETE" and r.feasible and all(k in r.metrics for k in keys) and _matches(r, clauses)]
    if not candidates:
        return []
    mask = moocore.is_nondominated(minimisation_matrix(candidates, keys, directions), keep_weakly=True)
    return [row for row, keep in zip(candidates, mask) if keep]


def hypervolume(rows: Sequence[TrialRow], keys: Sequence[str], directions: Sequence[str], reference: Sequence[float]) -> float:
    """Hypervolume of the feasible complete trials w.r.t. `reference` (given in minimisation form)."""
    points = [r for r in rows if r.state == "COMPLETE" and r.feasible and all(k in r.metrics for k in keys)]
    if not points:
        return 0.0
    data = minimisation_matrix(points, keys, directions)
    ref = np.asarray(reference, dtype=float)
    data = data[np.all(data < ref, axis=1)]
    return float(moocore.hypervolume(data, ref=ref)) if len(data) else 0.0


def running_reference(rows: Sequence[TrialRow], keys: Sequence[str], directions: Sequence[str]) -> list[float]:
    """A reference point just beyond the worst value seen per objective (for progress display)."""
    points = [r for r in rows if r.state == "COMPLETE" and all(k in r.metrics for k in keys)]
    if not points:
        return [0.0] * len(keys)
    return list(reference_point(minimisation_matrix(points, keys, directions)))


def reference_point(data: np.ndarray) -> np.ndarray:
    """Beyond the worst of minimisation-form `data` per objective by a tenth of its range (≥ 1e-9)."""
    worst, best = data.max(axis=0), data.min(axis=0)
    return worst + 0.1 * np.maximum(worst - best, 1e-9)


def resolve_objectives(study: optuna.Study, names: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """The objective keys (and directions) to front over: all of the study's, or the named subset."""
    keys = objective_keys(study.user_attrs)
    directions = [d.name.lower() for d in study.directions]
    if not names:
        return keys, directions
    unknown = [n for n in names if n not in keys]
    if unknown:
        raise QueryError(f"unknown objective {unknown[0]!r} for experiment {study.study_name!r}; objectives: {', '.join(keys)}")
    return list(names), [directions[keys.index(n)] for n in names]
