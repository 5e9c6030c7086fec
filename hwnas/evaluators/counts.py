"""Params and FLOPs from a space's operator description (no module is built, so thousands per second)."""

from __future__ import annotations

from collections.abc import Sequence

from hwnas.evaluators.base import Evaluator
from hwnas.search_spaces import Arch, SearchSpace
from hwnas.search_spaces._ops import total_macs, total_params


class CountEvaluator(Evaluator):
    """`params_m` and `flops_m` (FLOPs as fvcore and most NAS papers count them: one multiply-add is one)."""

    metrics = ("params_m", "flops_m")
    cheap = True

    def __init__(self, space: SearchSpace, input_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        self.space, self.input_shape = space, input_shape

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        rows = []
        for arch in archs:
            ops = self.space.ops(arch, self.input_shape)
            rows.append({"params_m": total_params(ops) / 1e6, "flops_m": total_macs(ops) / 1e6})
        return rows
