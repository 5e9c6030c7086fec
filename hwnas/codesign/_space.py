"""`HardwareSpace`: hardware choices with the `SearchSpace` API (sample, mutate, crossover, validate,
encode, suggest), derived from `Choice` declarations by the same machinery as an architecture space.

A hardware config is an `Arch` (immutable, stable 16-hex `id`). Its Optuna params carry a `hw.` prefix
(`hw.pe_rows`), so they never collide with an architecture's params in a joint trial.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.errors import InvalidHardwareError
from hwnas.errors import InvalidArchError
from hwnas.search_spaces import Arch, Choice, SearchSpace
from hwnas.search_spaces._arch import Scalar
from hwnas.search_spaces._space import RngLike, as_rng

if TYPE_CHECKING:
    import optuna

PREFIX = "hw."


class _Choices(SearchSpace):
    """The declaration machinery of `SearchSpace` for global choices only (no supernet, no ops)."""

    def __init__(self, kind: str, declaration: Sequence[Choice]) -> None:
        self.name = kind
        super().__init__("hardware", declaration)

    def build_supernet(self):  # noqa: ANN201 - a hardware space has no supernet
        raise NotImplementedError("a hardware space has no supernet")

    def ops(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list:
        raise NotImplementedError("a hardware space has no ops")


def _hw_error(exc: InvalidArchError) -> InvalidHardwareError:
    return InvalidHardwareError(str(exc).replace("arch field", "hardware field"))


class HardwareSpace:
    """Hardware choices of one `kind` (`accelerator` or `deployment`); `check` adds physical validity
    (e.g. `Accelerator.from_config`) on top of membership, and `sample`/`mutate`/`crossover` only
    return configs that pass it."""

    def __init__(self, kind: str, declaration: Sequence[Choice], check: Callable[[Arch], Any] | None = None) -> None:
        self.kind = kind
        try:
            self._choices = _Choices(kind, declaration)
        except ValueError as exc:
            raise InvalidHardwareError(f"hardware space {kind!r}: {exc}") from None
        self._check = check
        for name in self._choices.choices:
            if name.startswith(PREFIX):
                raise InvalidHardwareError(f"hardware choice {name!r}: names must not start with {PREFIX!r}")

    # -- structure ----------------------------------------------------------------------------
    @property
    def choices(self) -> dict[str, Choice]:
        return dict(self._choices.choices)  # type: ignore[arg-type]

    def num_configs(self) -> int:
        return self._choices.num_subnets()

    def validate(self, config: Arch | Mapping[str, Any]) -> Arch:
        """`config` as an `Arch` of this space; raises `InvalidHardwareError` naming the first bad field."""
        try:
            config = self._choices.validate({k: v for k, v in dict(config).items() if k != "hw_id"})
        except InvalidArchError as exc:
            raise _hw_error(exc) from None
        if self._check is not None:
            self._check(config)
        return config

    def is_valid(self, config: Arch) -> bool:
        try:
            self.validate(config)
        except InvalidHardwareError:
            return False
        return True

    # -- generic operations (redrawn until physically valid) -------------------------------------
    def _valid(self, draw: Callable[[], Arch], what: str) -> Arch:
        for _ in range(200):
            config = draw()
            if self.is_valid(config):
                return config
        raise InvalidHardwareError(f"hardware space {self.kind!r}: no valid config found by {what} in 200 draws")

    def sample(self, rng: RngLike = None) -> Arch:
        rng = as_rng(rng)
        return self._valid(lambda: self._choices.sample(rng), "sampling")

    def mutate(self, config: Arch, rng: RngLike = None, prob: float = 0.3) -> Arch:
        rng, config = as_rng(rng), self.validate(config)
        return self._valid(lambda: self._choices.mutate(config, rng, prob), "mutation")

    def crossover(self, a: Arch, b: Arch, rng: RngLike = None) -> Arch:
        rng, a, b = as_rng(rng), self.validate(a), self.validate(b)
        return self._valid(lambda: self._choices.crossover(a, b, rng), "crossover")

    def min_config(self) -> Arch:
        return self._choices.min_arch()

    def max_config(self) -> Arch:
        return self._choices.max_arch()

    def feature_names(self) -> list[str]:
        return [PREFIX + n for n in self._choices.feature_names()]

    def encode(self, config: Arch) -> np.ndarray:
        return self._choices.encode(self.validate(config))

    # -- Optuna --------------------------------------------------------------------------------
    def suggest(self, trial: optuna.trial.BaseTrial) -> Arch:
        """Ask `trial` for a config (params `hw.<name>`). An invalid combination raises
        `InvalidHardwareError`; the runner stores that trial as infeasible with the reason."""
        values = {name: trial.suggest_categorical(PREFIX + name, list(c.values)) for name, c in self.choices.items()}
        return self.validate(values)

    def to_params(self, config: Arch) -> dict[str, Scalar]:
        return {PREFIX + k: v for k, v in self.validate(config).items()}  # type: ignore[misc]

    def from_params(self, params: Mapping[str, Any]) -> Arch:
        """The config of a trial's params (non-`hw.` params are ignored)."""
        missing = [n for n in self.choices if PREFIX + n not in params]
        if missing:
            raise InvalidHardwareError(f"trial params lack {PREFIX + missing[0]!r}")
        return self.validate({n: params[PREFIX + n] for n in self.choices})

    def __repr__(self) -> str:
        return f"HardwareSpace(kind={self.kind!r}, choices={list(self.choices)})"
