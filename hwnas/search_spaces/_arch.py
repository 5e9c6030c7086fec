"""`Arch`: one point of a search space, the key hwnas uses everywhere (cache, storage, dashboard, export)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, KeysView, Mapping
from itertools import chain
from typing import Any, Union

from hwnas.errors import InvalidArchError

Scalar = Union[int, float, str, bool]
ChoiceValue = Union[Scalar, tuple[Scalar, ...]]


#: Value types no value of another type equals (1.0 == 1 == True): an arch of only these needs no type checks.
INTS_AND_STRS = frozenset({int, str})


def _freeze(name: str, value: Any) -> ChoiceValue:
    if isinstance(value, (list, tuple)):
        if INTS_AND_STRS.issuperset(map(type, value)):  # the common case, without a call per layer
            return tuple(value)
        return tuple(_freeze_scalar(f"{name}.{i}", v) for i, v in enumerate(value))
    return _freeze_scalar(name, value)


def _freeze_scalar(name: str, value: Any) -> Scalar:
    if type(value) in (bool, int, float, str):
        return value
    if hasattr(value, "item"):  # numpy / torch scalars (numpy's floats and strings subclass Python's)
        return value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    raise InvalidArchError(f"arch field {name!r}: {value!r} is not a number, string or list of them")


class Arch(Mapping[str, ChoiceValue]):
    """Immutable mapping of choice name to value (a scalar, or a tuple for per-layer choices).

    Two archs with equal choices are equal, hash equal and share `id`, whatever the order the
    choices were given in; lists become tuples so the value can be a dict key.
    """

    __slots__ = ("_choices", "_canonical", "ints_and_strs")

    def __init__(self, choices: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        merged = {**(choices or {}), **kwargs}
        frozen = {str(k): _freeze(str(k), v) for k, v in merged.items()}
        object.__setattr__(self, "_choices", dict(sorted(frozen.items())))
        #: Whether every value is exactly an int or a str: then a value equal to a declared int or str is that value,
        #: of its type (validation checks values alone).
        object.__setattr__(self, "ints_and_strs", INTS_AND_STRS.issuperset(
            map(type, chain.from_iterable(v if type(v) is tuple else (v,) for v in frozen.values()))))
        object.__setattr__(self, "_canonical", json.dumps(self._choices, sort_keys=True, separators=(",", ":")))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Arch is immutable; use Arch.replace(...)")

    def __getitem__(self, key: str) -> ChoiceValue:
        return self._choices[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)

    def keys(self) -> KeysView[str]:  # the dict's own view: set operations at C speed (validation compares them)
        return self._choices.keys()

    def __reduce__(self) -> tuple[type[Arch], tuple[dict[str, ChoiceValue]]]:
        """Pickled (Ray, multiprocessing, copy) as its choices: rebuilt through `__init__`, as it refuses attributes."""
        return type(self), (self._choices,)

    def __hash__(self) -> int:
        return hash(self._canonical)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Arch):
            return self._canonical == other._canonical
        return NotImplemented

    def __repr__(self) -> str:
        return f"Arch({self._canonical})"

    @property
    def id(self) -> str:
        """Stable 16-hex-digit id: the same on every machine and Python run for equal choices."""
        return hashlib.sha256(self._canonical.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> Arch:
        """A copy (of the same type) with `changes` applied."""
        return type(self)({**self._choices, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._choices.items()}

    def to_json(self, indent: int | None = None) -> str:
        if indent is None:
            return self._canonical
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Arch:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArchError(f"arch is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        if not isinstance(data, dict):
            raise InvalidArchError(f"arch JSON must be an object of choices, got {type(data).__name__}")
        return cls(data)
