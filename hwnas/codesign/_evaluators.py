"""Objectives of an (arch, hardware) pair, cached by (arch id, hardware id).

They follow the `Evaluator` contract except that a trial gives them its hardware too: `ObjectiveSet`
calls `evaluate_joint(arch, hardware)` on an evaluator whose `needs_hardware` is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hwnas.codesign._accelerator import Accelerator
from hwnas.codesign._cost import AcceleratorCostModel
from hwnas.codesign._space import HardwareSpace
from hwnas.errors import InvalidHardwareError
from hwnas.evaluators import Evaluator
from hwnas.search_spaces import Arch, SearchSpace

if TYPE_CHECKING:
    from hwnas.codesign._deploy import DeploymentRunner

ACCELERATOR_METRICS = ("energy_mj", "accel_latency_ms", "area_mm2")
DEPLOY_LATENCY = "deploy_latency_ms"
DEPLOY_ACCURACY = "deploy_accuracy"


def joint_key(arch_id: str, hw_id: str) -> str:
    return f"{arch_id}:{hw_id}"


class HardwareEvaluator(Evaluator):
    """Base of the pair evaluators: `evaluate_joint` caches by (arch id, hardware id)."""

    needs_hardware = True

    def __init__(self, space: SearchSpace, hardware: HardwareSpace) -> None:
        super().__init__()
        self.space, self.hardware = space, hardware

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        raise InvalidHardwareError(f"metrics {', '.join(self.metrics)} need a hardware choice (spec key hardware:)")

    def _key(self, arch: Arch, config: Arch) -> str:
        return joint_key(arch.id, config.id)

    def prime_joint(self, arch_id: str, hw_id: str, values: dict[str, float]) -> None:
        """Seed the cache with a stored trial's values of this (arch, hardware) pair."""
        self.prime(joint_key(arch_id, hw_id), values)

    def evaluate_joint(self, arch: Arch, config: Arch) -> dict[str, float]:
        arch, config = self.space.validate(arch), self.hardware.validate(config)
        key = self._key(arch, config)
        if key not in self._cache:
            self._cache[key] = self._pair(arch, config)
        return dict(self._cache[key])

    def _pair(self, arch: Arch, config: Arch) -> dict[str, float]:
        raise NotImplementedError


class AcceleratorEvaluator(HardwareEvaluator):
    """Energy, latency and area on an accelerator of the space (analytical: cheap)."""

    metrics = ACCELERATOR_METRICS

    def __init__(self, space: SearchSpace, hardware: HardwareSpace, backend: str = "roofline", **options: Any) -> None:
        super().__init__(space, hardware)
        self.model = AcceleratorCostModel(space, backend, **options)
        self.cheap = backend == "roofline"

    def _pair(self, arch: Arch, config: Arch) -> dict[str, float]:
        return self.model.cost(arch, Accelerator.from_config(config))


class DeploymentLatencyEvaluator(HardwareEvaluator):
    """Latency of the subnet under the deployment knobs, measured here under the device lock."""

    metrics = (DEPLOY_LATENCY,)
    cheap = False

    def __init__(self, space: SearchSpace, hardware: HardwareSpace, runner: DeploymentRunner) -> None:
        super().__init__(space, hardware)
        self.runner = runner

    def _pair(self, arch: Arch, config: Arch) -> dict[str, float]:
        return {DEPLOY_LATENCY: self.runner.latency_ms(arch, config)}


class DeploymentAccuracyEvaluator(HardwareEvaluator):
    """Validation accuracy of the deployed (e.g. int8) subnet; threads do not change it, so it is cached
    by (arch, runtime, precision)."""

    metrics = (DEPLOY_ACCURACY,)
    cheap = False

    def __init__(self, space: SearchSpace, hardware: HardwareSpace, runner: DeploymentRunner) -> None:
        super().__init__(space, hardware)
        self.runner = runner

    def _key(self, arch: Arch, config: Arch) -> str:
        return f"{arch.id}:{config['runtime']}:{config['precision']}"

    def _pair(self, arch: Arch, config: Arch) -> dict[str, float]:
        return {DEPLOY_ACCURACY: self.runner.accuracy(arch, config)}

    def prime(self, arch_id: str, values: dict[str, float]) -> None:
        """Stored values are keyed by (arch id, hw id), not this cache's key; recomputing is correct, so skip."""
