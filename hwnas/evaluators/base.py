"""`Evaluator`: one or more objectives of a batch of archs, cached by arch id."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from hwnas.search_spaces import Arch


class Evaluator(ABC):
    """Maps archs to metric values, e.g. `{"params_m": 1.2, "flops_m": 30.5}`.

    `cheap` evaluators (analytical counts, predicted latency) run first in a trial, so a failed
    constraint can stop a trial before the expensive ones (proxies, training, measurement) run.
    """

    #: Metric keys this evaluator returns, in a stable order.
    metrics: tuple[str, ...] = ()
    cheap: bool = True

    def __init__(self) -> None:
        self._cache: dict[str, dict[str, float]] = {}

    @abstractmethod
    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        """Values for archs not in the cache (already validated)."""

    def evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        missing = list({a.id: a for a in archs if a.id not in self._cache}.values())
        if missing:
            for arch, values in zip(missing, self._evaluate(missing)):
                self._cache[arch.id] = values
        return [dict(self._cache[a.id]) for a in archs]

    def prime(self, arch_id: str, values: dict[str, float]) -> None:
        """Seed the cache with values already stored (e.g. when a search resumes)."""
        if all(m in values for m in self.metrics):
            self._cache[arch_id] = {m: values[m] for m in self.metrics}
