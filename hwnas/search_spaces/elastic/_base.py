"""The elastic-module contract and the generic export that turns a configured supernet into a plain model.

Elastic leaves hold the largest weights and slice them for the active subnet (Once-for-All style); the
active sizes are set explicitly by the owning block's `configure(...)`, never inside `forward`.
Containers (blocks, encoders) are ordinary modules whose forward only calls children, so the same
container class runs both the supernet and the extracted subnet.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import nn


class ElasticModule(nn.Module, ABC):
    """A leaf whose active size is chosen by `configure`; `export()` copies the active slice out."""

    @abstractmethod
    def export(self) -> nn.Module:
        """A plain module holding a copy of the active slice of this leaf's weights."""


def export_module(module: nn.Module) -> nn.Module:
    """A standalone copy of `module` in its current configuration: elastic leaves replaced by plain ones.

    Containers are shallow-copied with fresh child, parameter and buffer dicts, so the supernet is not
    touched and the copy shares no storage with it.
    """
    if isinstance(module, ElasticModule):
        return module.export()
    clone = copy.copy(module)
    clone._modules = {name: None if child is None else export_module(child) for name, child in module._modules.items()}
    clone._parameters = {name: None if p is None else nn.Parameter(p.detach().clone(), p.requires_grad)
                         for name, p in module._parameters.items()}
    clone._buffers = {name: None if b is None else b.detach().clone() for name, b in module._buffers.items()}
    return clone


class ElasticLayers(ElasticModule):
    """A stack of layers of which `active_depth` run; iterating yields the active layers in order.

    `depth_layout` maps a depth to the indices of the layers that run at it (LightHuBERT drops middle
    layers, not the last ones); by default depth d runs the first d layers.
    """

    def __init__(self, layers: Sequence[nn.Module], depth_layout: Mapping[int, Sequence[int]] | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.depth_layout = {int(d): tuple(ix) for d, ix in (depth_layout or {}).items()}
        self.active_depth = len(self.layers)

    def active_indices(self, depth: int | None = None) -> tuple[int, ...]:
        depth = self.active_depth if depth is None else depth
        if not 0 <= depth <= len(self.layers):
            raise ValueError(f"depth {depth} outside 0..{len(self.layers)}")
        return self.depth_layout.get(depth, tuple(range(depth)))

    def configure(self, depth: int) -> list[nn.Module]:
        """Activate `depth` layers and return them, so the caller configures each in turn."""
        self.active_indices(depth)
        self.active_depth = depth
        return list(self)

    def __iter__(self) -> Iterator[nn.Module]:
        return (self.layers[i] for i in self.active_indices())

    def __len__(self) -> int:
        return len(self.active_indices())

    def export(self) -> nn.ModuleList:
        return nn.ModuleList(export_module(layer) for layer in self)


def sliced(tensor: torch.Tensor, *sizes: int | None) -> torch.Tensor:
    """Leading slice of each dimension (`None` keeps a dimension whole)."""
    index = tuple(slice(None) if s is None else slice(0, s) for s in sizes)
    return tensor[index]


def frozen_copy(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor.detach().clone())
