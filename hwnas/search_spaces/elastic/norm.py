"""Elastic layer norm: affine parameters sliced to the input's width."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces.elastic._base import ElasticModule, frozen_copy


class ElasticLayerNorm(ElasticModule):
    def __init__(self, max_dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(max_dim))
        self.bias = nn.Parameter(torch.zeros(max_dim))
        self.eps = eps
        self.active_dim = max_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        return F.layer_norm(x, (d,), self.weight[:d], self.bias[:d], self.eps)

    def export(self) -> nn.LayerNorm:
        plain = nn.LayerNorm(self.active_dim, eps=self.eps)
        plain.weight = frozen_copy(self.weight[: self.active_dim])
        plain.bias = frozen_copy(self.bias[: self.active_dim])
        return plain
