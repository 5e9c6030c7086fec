"""Experiment specs: the YAML a user writes, validated by pydantic into one-line errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from hwnas.codesign import HARDWARE_KINDS
from hwnas.errors import SpecError, shown
from hwnas.search.searchers import SEARCHERS, spec_samplers

_CONSTRAINT = re.compile(r"^\s*(?P<key>[A-Za-z_][\w.-]*(?:@[\w.:/~-]+)?)\s*(?P<op><=|>=)\s*(?P<bound>[-+0-9.eE]+)\s*$")


def _one_of(value: str, allowed: list[str] | tuple[str, ...]) -> str:
    """`value` if allowed, else the error pydantic gives a Literal (the registries decide what is allowed)."""
    if value not in allowed:
        names = [repr(a) for a in allowed]
        raise ValueError(f"Input should be {', '.join(names[:-1])} or {names[-1]}, got {shown(value)}")
    return value


#: A spec file larger than this, or one whose YAML aliases expand to more values, is refused before parsing it.
MAX_SPEC_BYTES = 1_000_000
MAX_SPEC_VALUES = 100_000


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):  # YAML's true/false would otherwise pass as 1/0
        raise ValueError(f"must be a number, got {str(value).lower()}")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]


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
    workers: Int = Field(1, ge=1)
    ray_address: str | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        return _one_of(value, SEARCHERS.names())

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, value: str) -> str:
        return _one_of(value, spec_samplers())


class HardwareSpec(_Strict):
    """Hardware searched with the arch: `accelerator` parameters or `deployment` knobs (see `hwnas.codesign`)."""

    kind: str
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        return _one_of(value, HARDWARE_KINDS.names())


class BudgetSpec(_Strict):
    trials: Int | None = Field(None, gt=0)
    minutes: Float | None = Field(None, gt=0)

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
    seed: Int = Field(0, ge=0, lt=2**32)  # numpy's and Optuna's seeds are 32-bit
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
        message = f"{message}, got {shown(first.get('input'))}"
    return f"{source}: {path}: {message}"


def _count_values(data: Any, limit: int) -> int:
    """Values in `data` as YAML aliases expand them (shared nodes counted each time), stopping past `limit`."""
    count, stack = 0, [data]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return count


def parse_spec(data: Any, source: str = "spec") -> ExperimentSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: an experiment spec must be a YAML mapping, got {type(data).__name__}")
    if _count_values(data, MAX_SPEC_VALUES) > MAX_SPEC_VALUES:
        raise SpecError(f"{source}: the spec expands to more than {MAX_SPEC_VALUES:,} values (YAML aliases?); refusing it")
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_format_error(exc, source)) from None


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no tags that build objects) that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {shown(key)}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _SpecLoader.construct_mapping)


def read_spec_text(path: Path) -> str:
    """The spec file's text: refused in one line when missing, a directory, too large or not UTF-8."""
    if path.is_dir():
        raise SpecError(f"experiment spec {str(path)!r} is a directory, not a YAML file")
    if not path.is_file():
        raise SpecError(f"experiment spec {str(path)!r} not found")
    size = path.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: {size:,} bytes; an experiment spec is at most {MAX_SPEC_BYTES:,} bytes")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start}); an experiment spec is a YAML file") from None


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a spec file; every problem is one `SpecError` line naming file and key path."""
    path = Path(path)
    text = read_spec_text(path)
    try:
        data = yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"{path}: malformed YAML{where}: {str(getattr(exc, 'problem', None) or exc)[:200]}") from None
    return parse_spec(data, str(path))
