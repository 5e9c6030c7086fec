"""`JointSpace`: an architecture space × a hardware space as one space of merged points.

A joint point is one `Arch` holding the arch's choices and the hardware's under `hw.`-prefixed keys, so
its params are exactly a joint trial's Optuna params and its `id` de-duplicates (arch, hardware) pairs.
The evolution sampler runs on it unchanged: mutation and crossover act on both parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwnas.codesign._space import PREFIX, HardwareConfig, HardwareSpace
from hwnas.search_spaces import Arch, SearchSpace
from hwnas.search_spaces._choice_space import RngLike, as_rng


class JointSpace:
    """The choice algebra over (arch, hardware) pairs, each part delegated to its own space."""

    def __init__(self, space: SearchSpace, hardware: HardwareSpace) -> None:
        self.space, self.hardware = space, hardware
        self.name, self.preset = space.name, space.preset

    @staticmethod
    def merge(arch: Arch, config: HardwareConfig) -> Arch:
        return Arch({**arch, **{PREFIX + k: v for k, v in config.items()}})

    def split(self, point: Arch) -> tuple[Arch, HardwareConfig]:
        arch = {k: v for k, v in point.items() if not k.startswith(PREFIX)}
        config = {k[len(PREFIX):]: v for k, v in point.items() if k.startswith(PREFIX)}
        return self.space.validate(arch), self.hardware.validate(config)

    def validate(self, point: Arch | Mapping[str, Any]) -> Arch:
        return self.merge(*self.split(point if isinstance(point, Arch) else Arch(point)))

    def sample(self, rng: RngLike = None) -> Arch:
        rng = as_rng(rng)
        return self.merge(self.space.sample(rng), self.hardware.sample(rng))

    def mutate(self, point: Arch, rng: RngLike = None, prob: float = 0.3) -> Arch:
        rng = as_rng(rng)
        arch, config = self.split(point)
        return self.merge(self.space.mutate(arch, rng, prob), self.hardware.mutate(config, rng, prob))

    def crossover(self, a: Arch, b: Arch, rng: RngLike = None) -> Arch:
        rng = as_rng(rng)
        (arch_a, hw_a), (arch_b, hw_b) = self.split(a), self.split(b)
        return self.merge(self.space.crossover(arch_a, arch_b, rng), self.hardware.crossover(hw_a, hw_b, rng))

    def to_params(self, point: Arch) -> dict[str, Any]:
        arch, config = self.split(point)
        return {**self.space.to_params(arch), **self.hardware.to_params(config)}

    def from_params(self, params: Mapping[str, Any]) -> Arch:
        return self.merge(self.space.from_params(params), self.hardware.from_params(params))
