"""Params and FLOPs from a space's operator description (no module is built, so thousands per second)."""

from __future__ import annotations

from collections.abc import Sequence

from hwnas.evaluators.base import Evaluator
from hwnas.search_spaces import Arch, BlockSpec, SearchSpace
from hwnas.search_spaces._ops import total_macs, total_params

#: Blocks whose counts an evaluator keeps before it starts over.
BLOCKS_REMEMBERED = 50_000


class CountEvaluator(Evaluator):
    """`params_m` and `flops_m` (FLOPs as fvcore and most NAS papers count them: one multiply-add is one)."""

    metrics = ("params_m", "flops_m")
    cheap = True

    def __init__(self, space: SearchSpace, input_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        self.space, self.input_shape = space, input_shape
        self._per_block: dict[BlockSpec, tuple[int, int]] = {}  # a search's archs share most of their blocks

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        rows = []
        for arch in archs:
            params = macs = 0
            for block in self.space.blocks(arch, self.input_shape):
                counts = self._counts(block)
                params, macs = params + counts[0], macs + counts[1]
            rows.append({"params_m": params / 1e6, "flops_m": macs / 1e6})
        return rows

    def _counts(self, block: BlockSpec) -> tuple[int, int]:
        """(params, MACs) of `block`, remembered (a spec with an unhashable field is counted each time)."""
        try:
            counts = self._per_block.get(block)
        except TypeError:
            ops = block.ops()
            return total_params(ops), total_macs(ops)
        if counts is None:
            if len(self._per_block) >= BLOCKS_REMEMBERED:
                self._per_block.clear()
            ops = block.ops()
            counts = self._per_block[block] = (total_params(ops), total_macs(ops))
        return counts
