"""`HardwareSpace`: hardware choices as a `ChoiceSpace` (sample, mutate, crossover, validate, encode,
suggest), derived from `Choice` declarations by the same machinery as an architecture space.

A point is a `HardwareConfig` (immutable, stable 16-hex `id`, the `hw_id` of stored trials). Its Optuna
params and features carry a `hw.` prefix (`hw.pe_rows`), so they never collide with an architecture's in
a joint trial. A hardware space has no supernet, no ops and no I/O: it is not a `SearchSpace`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from hwnas.errors import InvalidHardwareError
from hwnas.search_spaces import Arch, Choice, ChoiceSpace
from hwnas.search_spaces._choice_space import RngLike, as_rng

PREFIX = "hw."


class HardwareConfig(Arch):
    """One hardware point: an immutable choice mapping with the same JSON and `id` as an `Arch` of equal choices."""

    __slots__ = ()


class HardwareSpace(ChoiceSpace):
    """Hardware choices of one `kind` (`accelerator` or `deployment`); `check` adds physical validity
    (e.g. `Accelerator.from_config`) on top of membership, and `sample`/`mutate`/`crossover` only
    return configs that pass it. Errors are `InvalidHardwareError`s naming the hardware field."""

    noun: ClassVar[str] = "hardware"
    error = InvalidHardwareError
    point_type = HardwareConfig
    param_prefix: ClassVar[str] = PREFIX

    def __init__(self, kind: str, declaration: Sequence[Choice], check: Callable[[HardwareConfig], Any] | None = None) -> None:
        self.kind = self.name = kind
        for choice in declaration:
            if choice.name.startswith(PREFIX):
                raise InvalidHardwareError(f"hardware choice {choice.name!r}: names must not start with {PREFIX!r}")
        try:
            super().__init__(declaration)
        except ValueError as exc:
            raise InvalidHardwareError(f"hardware space {kind!r}: {exc}") from None
        self._check = check

    def num_configs(self) -> int:
        return self.num_subnets()

    def min_config(self) -> HardwareConfig:
        return self.min_arch()  # type: ignore[return-value]

    def max_config(self) -> HardwareConfig:
        return self.max_arch()  # type: ignore[return-value]

    def validate(self, config: Arch | Mapping[str, Any]) -> HardwareConfig:
        """`config` (a stored `hw_id` key is ignored) as a point of this space; raises `InvalidHardwareError`."""
        config = super().validate({k: v for k, v in dict(config).items() if k != "hw_id"})
        if self._check is not None:
            self._check(config)  # type: ignore[arg-type]
        return config  # type: ignore[return-value]

    def is_valid(self, config: Arch | Mapping[str, Any]) -> bool:
        return config in self

    # -- generic operations (redrawn until physically valid) -------------------------------------
    def _valid(self, draw: Callable[[], Arch], what: str) -> HardwareConfig:
        for _ in range(200):
            config = draw()
            if self.is_valid(config):
                return config  # type: ignore[return-value]
        raise InvalidHardwareError(f"hardware space {self.kind!r}: no valid config found by {what} in 200 draws")

    def sample(self, rng: RngLike = None) -> HardwareConfig:
        rng = as_rng(rng)
        return self._valid(lambda: super(HardwareSpace, self).sample(rng), "sampling")

    def mutate(self, config: Arch, rng: RngLike = None, prob: float = 0.3) -> HardwareConfig:
        rng, config = as_rng(rng), self.validate(config)
        return self._valid(lambda: super(HardwareSpace, self).mutate(config, rng, prob), "mutation")

    def crossover(self, a: Arch, b: Arch, rng: RngLike = None) -> HardwareConfig:
        rng, a, b = as_rng(rng), self.validate(a), self.validate(b)
        return self._valid(lambda: super(HardwareSpace, self).crossover(a, b, rng), "crossover")

    def __repr__(self) -> str:
        return f"HardwareSpace(kind={self.kind!r}, choices={list(self.choices)})"
