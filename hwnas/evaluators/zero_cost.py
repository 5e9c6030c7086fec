"""Zero-cost accuracy proxy: NASWOT (Mellor et al., 2021) on the untrained supernet's subnet.

A proxy, not accuracy: it scores how differently a subnet's activations separate one batch of the task's
inputs (log-determinant of the Hamming-similarity kernel of binary activation codes). Higher is better.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.errors import HwnasError
from hwnas.evaluators.base import Evaluator
from hwnas.search_spaces import Arch, SearchSpace
from hwnas.search_spaces.elastic.conv import ElasticActivation

#: Modules whose outputs give the binary codes (x > 0: the unit is "on"); the elastic one covers the conv
#: spaces' per-subnet activations (ReLU6, hard-swish, SiLU).
ACTIVATIONS = (nn.ReLU, nn.GELU, nn.ReLU6, nn.Hardswish, nn.SiLU, ElasticActivation)


class NaswotEvaluator(Evaluator):
    """`naswot`: log|K| of the activation-code kernel over a fixed batch, at a fixed supernet init."""

    metrics = ("naswot",)
    cheap = False

    def __init__(self, space: SearchSpace, inputs: tuple[torch.Tensor, ...], seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.space, self.supernet = space, space.build_supernet().eval()
        self.inputs = inputs

    def _score(self, arch: Arch) -> float:
        codes: list[torch.Tensor] = []

        def record(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            codes.append((output > 0).flatten(1).float())

        self.supernet.set_active(arch)
        hooks = [m.register_forward_hook(record) for m in self.supernet.modules() if isinstance(m, ACTIVATIONS)]
        try:
            with torch.no_grad():
                self.supernet(*self.inputs)
        finally:
            for hook in hooks:
                hook.remove()
        if not codes:
            raise HwnasError(f"naswot: subnet {arch.id} of {self.space.name}/{self.space.preset} has no activation "
                             f"module to read codes from ({', '.join(a.__name__ for a in ACTIVATIONS)})")
        c = torch.cat(codes, dim=1).double()
        kernel = c @ c.T + (1 - c) @ (1 - c).T
        return float(torch.linalg.slogdet(kernel)[1])

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        return [{"naswot": self._score(arch)} for arch in archs]
