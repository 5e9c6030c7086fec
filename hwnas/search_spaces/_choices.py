"""The declarations a space is made of: global choices, elastic depths and per-layer choices.

A space lists these once; sampling, mutation, validation, encoding, Optuna suggestion and subnet
counting are all derived from the list (see `_space.SearchSpace`). Categorical values are declared
cheapest first, so `min_arch`/`max_arch` pick the first/last of them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from hwnas.search_spaces._arch import Scalar


@dataclass(frozen=True)
class Choice:
    """One global choice, e.g. `Choice("embed_dim", [320, 384, 448])`."""

    name: str
    values: tuple[Scalar, ...]

    def __init__(self, name: str, values: Sequence[Scalar]) -> None:
        if not values:
            raise ValueError(f"choice {name!r} needs at least one value")
        if len(set(values)) != len(values):
            raise ValueError(f"choice {name!r} has repeated values: {list(values)}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "values", tuple(values))

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)

    @property
    def smallest(self) -> Scalar:
        return min(self.values) if self.numeric else self.values[0]  # type: ignore[type-var]

    @property
    def largest(self) -> Scalar:
        return max(self.values) if self.numeric else self.values[-1]  # type: ignore[type-var]

    def sample(self, rng: random.Random) -> Scalar:
        return rng.choice(self.values)

    def feature_names(self, prefix: str) -> list[str]:
        """Names of the encoded features: one numeric column, or one-hot columns for categorical values."""
        return [prefix] if self.numeric else [f"{prefix}={v}" for v in self.values]

    def encode(self, value: Scalar | None) -> list[float]:
        """Numeric value as is, categorical one-hot; `None` (an inactive layer) encodes as zeros."""
        if self.numeric:
            return [0.0 if value is None else float(value)]  # type: ignore[arg-type]
        return [1.0 if value == v else 0.0 for v in self.values]


class Depth(Choice):
    """The number of active layers of a layer group; per-layer choices attach to it by name."""


@dataclass(frozen=True)
class PerLayer:
    """A choice made independently in every active layer of a depth group.

    `depth` names a `Depth` of the same space, or is an int for a group of fixed size.
    """

    choice: Choice
    depth: str | int

    def __init__(self, name: str, values: Sequence[Scalar], depth: str | int) -> None:
        object.__setattr__(self, "choice", Choice(name, values))
        object.__setattr__(self, "depth", depth)

    @property
    def name(self) -> str:
        return self.choice.name

    @property
    def values(self) -> tuple[Scalar, ...]:
        return self.choice.values


Declaration = Choice | PerLayer
