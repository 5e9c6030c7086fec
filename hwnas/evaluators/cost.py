"""Params and MACs of a subnet: counted on the extracted module with fvcore, and from its `ops()`.

fvcore traces the real module, so it is the reference; the op-level count is what predictors use, and
the two are kept in agreement by the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

from hwnas.search_spaces import Arch, SearchSpace
from hwnas.search_spaces._ops import total_macs, total_params


@dataclass(frozen=True)
class SubnetCost:
    """Costs of one subnet for one sample of `input_shape` (units in the names)."""

    arch_id: str
    input_shape: tuple[int, ...]
    params: int
    embedding_params: int
    macs: int
    ops_macs: int
    num_ops: int

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    @property
    def macs_m(self) -> float:
        return self.macs / 1e6

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "params_m": self.params_m, "macs_m": self.macs_m,
                "params_without_embeddings_m": (self.params - self.embedding_params) / 1e6}


def fvcore_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """MACs of one forward pass as fvcore counts them (multiply-adds of matmuls, convs; norms)."""
    logging.getLogger("fvcore.nn.jit_analysis").setLevel(logging.ERROR)
    analysis = FlopCountAnalysis(module.eval(), inputs)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        return int(analysis.total())


def subnet_cost(space: SearchSpace, arch: Arch, input_shape: Sequence[int] | None = None, module: nn.Module | None = None) -> SubnetCost:
    """Costs of `arch` at batch 1; pass an already `module` (the extracted subnet) to skip building it."""
    arch = space.validate(arch)
    shape = tuple(input_shape or space.default_input_shape)
    if module is None:
        module = space.build_supernet().extract(arch)
    op_list = space.ops(arch, shape)
    embedding = sum(op.params for op in op_list if op.kind == "embedding")
    params = sum(p.numel() for p in module.parameters())
    return SubnetCost(
        arch_id=arch.id, input_shape=shape, params=params, embedding_params=embedding,
        macs=fvcore_macs(module, space.example_input(1, shape)), ops_macs=total_macs(op_list), num_ops=len(op_list),
    )


__all__ = ["SubnetCost", "fvcore_macs", "subnet_cost", "total_params"]
