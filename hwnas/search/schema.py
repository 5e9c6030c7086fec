"""What hwnas stores in Optuna storage: the attribute names of trials and studies, and typed readers.

Every module that writes or reads a stored trial goes through here, so the schema is written once.
A trial carries its arch (and, in co-design, its hardware), every metric evaluated, the constraint
violations, and whether it is feasible (with the reason when a predictor or a cheap constraint refused it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from hwnas.search_spaces import Arch

# -- trial attributes ---------------------------------------------------------------------------------
ARCH, ARCH_ID, METRICS, HARDWARE = "arch", "arch_id", "metrics", "hardware"
FEASIBLE, INFEASIBLE_REASON, CONSTRAINT_VALUES = "feasible", "infeasible_reason", "constraint_values"
#: On a trial that was not evaluated (stored as FAIL) because trial N of the study already holds its arch.
DUPLICATE_OF = "duplicate_of"
#: On a queued retry (of a killed trial) failed unrun because the budget was spent: why.
NOT_RUN = "not_run"
#: On a trial a surrogate search chose: what its surrogate predicted, per modelled key {"mean", "std"}.
SURROGATE = "surrogate"
#: On a trial a Ray worker evaluated: where it ran, {"node_id", "host", "pid"} (a cluster spreads trials over nodes).
WORKER = "worker"
TRIAL_ATTRS = (ARCH, ARCH_ID, METRICS, HARDWARE, FEASIBLE, INFEASIBLE_REASON, CONSTRAINT_VALUES, DUPLICATE_OF, NOT_RUN,
               SURROGATE, WORKER)
#: The attributes a trial row (pareto, dashboard, API) is built from.
ROW_ATTRS = (ARCH, ARCH_ID, METRICS, FEASIBLE, HARDWARE, SURROGATE)

# -- study attributes ---------------------------------------------------------------------------------
SPEC, OBJECTIVE_KEYS, IDENTITY = "hwnas:spec", "hwnas:objective_keys", "hwnas:identity"


@dataclass(frozen=True)
class TrialRecord:
    """The hwnas attributes of one stored trial (a trial killed before its first result has none)."""

    arch: dict[str, Any] = field(default_factory=dict)
    arch_id: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)
    feasible: bool = False
    infeasible_reason: str = ""
    constraint_values: list[float] = field(default_factory=list)
    duplicate_of: int | None = None

    @classmethod
    def of(cls, user_attrs: Mapping[str, Any]) -> TrialRecord:
        return cls(dict(user_attrs.get(ARCH) or {}), str(user_attrs.get(ARCH_ID, "")), dict(user_attrs.get(METRICS) or {}),
                   dict(user_attrs.get(HARDWARE) or {}), bool(user_attrs.get(FEASIBLE, False)),
                   str(user_attrs.get(INFEASIBLE_REASON, "")), list(user_attrs.get(CONSTRAINT_VALUES) or []),
                   user_attrs.get(DUPLICATE_OF))

    @property
    def has_arch(self) -> bool:
        return bool(self.arch_id)

    @property
    def hw_id(self) -> str | None:
        return self.hardware.get("hw_id")


def point_of(user_attrs: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """(arch id, hardware id) a trial holds or claims, without copying its record (read once per trial per
    claim); None for a trial with no arch or one refused as a duplicate."""
    if not user_attrs.get(ARCH_ID) or user_attrs.get(DUPLICATE_OF) is not None:
        return None
    return user_attrs[ARCH_ID], (user_attrs.get(HARDWARE) or {}).get("hw_id")


def claim(trial: optuna.Trial, arch: Arch, hardware: Arch | None = None) -> None:
    """Write the trial's arch (and hardware) before it is evaluated: other workers see the claim."""
    trial.set_user_attr(ARCH, arch.to_dict())
    trial.set_user_attr(ARCH_ID, arch.id)
    if hardware is not None:  # `hwnas extract` writes this into hardware.json
        trial.set_user_attr(HARDWARE, {**hardware.to_dict(), "hw_id": hardware.id})


def record(trial: optuna.Trial, values: Mapping[str, float], violations: Sequence[float]) -> None:
    """Write a claimed trial's metrics and constraint violations (feasible unless one is > 0)."""
    trial.set_user_attr(METRICS, dict(values))
    trial.set_user_attr(CONSTRAINT_VALUES, list(violations))
    trial.set_user_attr(FEASIBLE, all(v <= 0 for v in violations))


def mark_infeasible(trial: optuna.Trial, reason: str) -> None:
    """A trial a predictor or the hardware space refused: infeasible, with the one-line reason."""
    trial.set_user_attr(INFEASIBLE_REASON, reason)
    trial.set_user_attr(FEASIBLE, False)


def study_spec(user_attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment spec a study was made with ({} for a study not made by `hwnas run`)."""
    return json.loads(user_attrs.get(SPEC, "{}"))


def objective_keys(user_attrs: Mapping[str, Any]) -> list[str]:
    return list(user_attrs.get(OBJECTIVE_KEYS, []))


def write_study(study: optuna.Study, spec_json: str, keys: Sequence[str], identity: str | None = None) -> None:
    study.set_user_attr(SPEC, spec_json)
    study.set_user_attr(OBJECTIVE_KEYS, list(keys))
    if identity is not None:
        study.set_user_attr(IDENTITY, identity)
