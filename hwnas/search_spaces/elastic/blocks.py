"""Transformer building blocks shared by every transformer space: FFN, encoder/decoder layer and its spec.

These are containers: their forward only calls children, so the extracted subnet reuses the same class
with plain children. `TransformerLayerSpec` builds the supernet layer, describes its operators, and the
layer's `configure(spec)` activates it (supernet side only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from hwnas.search_spaces.elastic.attention import MixedAttention
from hwnas.search_spaces.elastic.linear import ElasticLinear
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

if TYPE_CHECKING:
    from hwnas.search_spaces._sequence_specs import TransformerLayerSpec

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

    @classmethod
    def from_spec(cls, spec: TransformerLayerSpec) -> TransformerLayer:
        width = dict(qkv_dim=spec.qkv_dim) if spec.qkv_dim else dict(head_dim=spec.head_dim)
        rel = dict(max_rel_range=spec.rel_range) if spec.rel_range else {}
        attn = MixedAttention(spec.kinds, spec.embed, spec.heads, **width, **rel, **({"causal": True} if spec.causal else {}))
        cross = None
        if spec.cross is not None:
            cross = MixedAttention(("softmax",), spec.embed, spec.cross.heads, **width, max_kv_embed=spec.cross.kv_embed)
        return cls(attn, FeedForward(spec.embed, spec.ffn, spec.activation), spec.embed, spec.norm_first, cross_attn=cross)

    def configure(self, spec: TransformerLayerSpec) -> None:
        self.self_attn.configure(spec.kind, spec.heads, spec.embed, rel_range=spec.rel_range)
        if spec.cross is not None:
            self.cross_attn.configure("softmax", spec.cross.heads, spec.embed, kv_embed=spec.cross.kv_embed)  # type: ignore[union-attr]
            self.memory_layers = spec.cross.memory_layers
        self.ffn.configure(spec.embed, spec.ffn)
        for norm in (self.norm1, self.norm_cross, self.norm2):
            if norm is not None:
                norm.active_dim = spec.embed

    def _residual(self, x: torch.Tensor, norm: nn.Module, fn, *args: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        if self.norm_first:
            return x + fn(norm(x), *args)
        return norm(x + fn(x, *args))

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        x = self._residual(x, self.norm1, self.self_attn)
        if self.cross_attn is not None:
            x = self._residual(x, self.norm_cross, self.cross_attn, memory)
        return self._residual(x, self.norm2, self.ffn)
