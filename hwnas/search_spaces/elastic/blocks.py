"""Transformer building blocks shared by every transformer space: FFN and encoder/decoder layer.

These are containers: their forward only calls children, so the extracted subnet reuses the same class
with plain children. `configure` is called on the supernet side only.
"""

from __future__ import annotations

import torch
from torch import nn

from hwnas.search_spaces.elastic.attention import MixedAttention
from hwnas.search_spaces.elastic.linear import ElasticLinear
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


class FeedForward(nn.Module):
    """fc1 → activation → fc2 with an elastic hidden width."""

    def __init__(self, max_embed: int, max_hidden: int, activation: str) -> None:
        super().__init__()
        self.fc1 = ElasticLinear(max_embed, max_hidden)
        self.act = ACTIVATIONS[activation]()
        self.fc2 = ElasticLinear(max_hidden, max_embed)

    def configure(self, embed: int, hidden: int) -> None:
        self.fc1.configure(embed, hidden)
        self.fc2.configure(hidden, embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerLayer(nn.Module):
    """Self-attention (+ optional cross-attention) + FFN with residuals, pre- or post-norm."""

    def __init__(self, attn: MixedAttention, ffn: FeedForward, max_embed: int, norm_first: bool,
                 cross_attn: MixedAttention | None = None) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn, self.norm1 = attn, ElasticLayerNorm(max_embed)
        self.cross_attn = cross_attn
        self.norm_cross = ElasticLayerNorm(max_embed) if cross_attn is not None else None
        self.ffn, self.norm2 = ffn, ElasticLayerNorm(max_embed)
        #: Decoder layers only: how many of the last encoder layers' outputs the cross-attention reads.
        self.memory_layers = 1

    def configure_norms(self, embed: int) -> None:
        for norm in (self.norm1, self.norm_cross, self.norm2):
            if norm is not None:
                norm.active_dim = embed

    def _residual(self, x: torch.Tensor, norm: nn.Module, fn, *args: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        if self.norm_first:
            return x + fn(norm(x), *args)
        return norm(x + fn(x, *args))

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        x = self._residual(x, self.norm1, self.self_attn)
        if self.cross_attn is not None:
            x = self._residual(x, self.norm_cross, self.cross_attn, memory)
        return self._residual(x, self.norm2, self.ffn)
