"""Experiment specs: the YAML a user writes, validated by pydantic into one-line errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hwnas.errors import SpecError
from hwnas.search.searchers import OPTUNA_SAMPLERS, SEARCHERS

_CONSTRAINT = re.compile(r"^\s*(?P<key>[A-Za-z_][\w.-]*(?:@[\w.:-]+)?)\s*(?P<op><=|>=)\s*(?P<bound>[-+0-9.eE]+)\s*$")


def _one_of(value: str, allowed: list[str] | tuple[str, ...]) -> str:
    """`value` if allowed, else the error pydantic gives a Literal (the registries decide what is allowed)."""
    if value not in allowed:
        names = [repr(a) for a in allowed]
        raise ValueError(f"Input should be {', '.join(names[:-1])} or {names[-1]}, got {value!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpaceSpec(_Strict):
    name: str
    preset: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class TaskSpec(_Strict):
    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class ObjectiveSpec(_Strict):
    metric: str
    direction: Literal["minimize", "maximize"]
    device: str | None = None

    @property
    def key(self) -> str:
        """The metric key in results, e.g. `latency_ms@pixel4`."""
        return f"{self.metric}@{self.device}" if self.device else self.metric


class Constraint(BaseModel):
    """`key <= bound` or `key >= bound`; `violation(value) <= 0` means satisfied (Optuna's convention)."""

    key: str
    op: Literal["<=", ">="]
    bound: float

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _CONSTRAINT.match(value)
        if not match:
            raise ValueError(f"constraint {value!r} must look like 'latency_ms@pixel4 <= 20' or 'params_m >= 1'")
        try:
            bound = float(match["bound"])
        except ValueError:
            raise ValueError(f"constraint {value!r}: bound {match['bound']!r} is not a number") from None
        return {"key": match["key"], "op": match["op"], "bound": bound}

    @classmethod
    def parse(cls, text: str) -> Constraint:
        return cls.model_validate(text)

    def violation(self, value: float) -> float:
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.bound:g}"


class SearcherSpec(_Strict):
    kind: str = "optuna"
    sampler: str = "nsga2"
    options: dict[str, Any] = Field(default_factory=dict)
    workers: int = Field(1, ge=1)
    ray_address: str | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        return _one_of(value, SEARCHERS.names())

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, value: str) -> str:
        return _one_of(value, OPTUNA_SAMPLERS)


class HardwareSpec(_Strict):
    """Hardware searched with the arch: `accelerator` parameters or `deployment` knobs (see `hwnas.codesign`)."""

    kind: Literal["accelerator", "deployment"]
    options: dict[str, Any] = Field(default_factory=dict)


class BudgetSpec(_Strict):
    trials: int | None = Field(None, gt=0)
    minutes: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _some_budget(self) -> BudgetSpec:
        if self.trials is None and self.minutes is None:
            raise ValueError("give trials and/or minutes")
        return self


class ExperimentSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*$")
    space: SpaceSpec
    task: TaskSpec | None = None
    objectives: list[ObjectiveSpec] = Field(min_length=1)
    constraints: list[Constraint] = Field(default_factory=list)
    searcher: SearcherSpec = Field(default_factory=SearcherSpec)
    budget: BudgetSpec
    seed: int = 0
    storage: str | None = None
    hardware: HardwareSpec | None = None  # co-design: hardware choices searched in the same trials
    supernet: str | None = None  # a trained supernet's directory (`hwnas train-supernet --out`): accuracy and extract use its weights

    @property
    def objective_keys(self) -> list[str]:
        return [o.key for o in self.objectives]

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    def storage_url(self, base_dir: Path) -> str:
        """The spec's storage, or a SQLite file named after the experiment under `base_dir`."""
        return self.storage or f"sqlite:///{(base_dir / f'{self.name}.db').as_posix()}"


def _format_error(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error":
        message = f"{message}, got {first.get('input')!r}"
    return f"{source}: {path}: {message}"


def parse_spec(data: Any, source: str = "spec") -> ExperimentSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: an experiment spec must be a YAML mapping, got {type(data).__name__}")
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_format_error(exc, source)) from None


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a spec file; every problem is one `SpecError` line naming file and key path."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"experiment spec {str(path)!r} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"{path}: malformed YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_spec(data, str(path))
