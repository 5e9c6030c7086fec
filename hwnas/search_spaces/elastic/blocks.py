"""Transformer building blocks shared by every transformer space: FFN, encoder/decoder layer and its spec.

These are containers: their forward only calls children, so the extracted subnet reuses the same class
with plain children. `TransformerLayerSpec` builds the supernet layer, describes its operators, and the
layer's `configure(spec)` activates it (supernet side only).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._block import BuildableSpec
from hwnas.search_spaces._ops import OpSpec
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


@dataclass(frozen=True)
class CrossAttention:
    """A decoder layer's softmax attention over the last `memory_layers` encoder outputs (`n_kv` tokens)."""

    n_kv: int
    kv_embed: int
    heads: int
    head_dim: int
    memory_layers: int = 1


def attention_ops(n_q: int, n_kv: int, q_embed: int, kv_embed: int, heads: int, head_dim: int, kind: str,
                  causal: bool, rel_range: int = 0) -> list[OpSpec]:
    qkv = heads * head_dim
    return [
        ops.linear(n_q, q_embed, qkv),
        ops.linear(n_kv, kv_embed, qkv),
        ops.linear(n_kv, kv_embed, qkv),
        ops.attention(kind, n_q, n_kv, heads, head_dim, causal, rel_range),
        ops.linear(n_q, qkv, q_embed),
        ops.add(n_q * q_embed),
        ops.layernorm(n_q, q_embed),
    ]


@dataclass(frozen=True)
class TransformerLayerSpec(BuildableSpec):
    """One layer over `n` tokens at its active sizes.

    The head width is `head_dim` (mixFormer, LightHuBERT), or `qkv_dim / heads` when `qkv_dim` fixes the
    attention width (HAT). `kinds` are the attention kinds the layer's slot offers; `rel_range` is the
    relative range (used only by relative attention).
    """

    n: int
    embed: int
    heads: int
    head_dim: int
    ffn: int
    kind: str
    activation: str
    norm_first: bool
    kinds: tuple[str, ...]
    rel_range: int = 0
    causal: bool = False
    qkv_dim: int | None = None
    cross: CrossAttention | None = None

    def ops(self) -> list[OpSpec]:
        n, embed = self.n, self.embed
        result = attention_ops(n, n, embed, embed, self.heads, self.head_dim, self.kind, self.causal, self.rel_range)
        if self.cross is not None:
            c = self.cross
            result += attention_ops(n, c.n_kv, embed, c.kv_embed, c.heads, c.head_dim, "softmax", False)
        return result + [
            ops.linear(n, embed, self.ffn),
            ops.act(self.activation, n * self.ffn),
            ops.linear(n, self.ffn, embed),
            ops.add(n * embed),
            ops.layernorm(n, embed),
        ]

    def build(self) -> TransformerLayer:
        width = dict(qkv_dim=self.qkv_dim) if self.qkv_dim else dict(head_dim=self.head_dim)
        rel = dict(max_rel_range=self.rel_range) if self.rel_range else {}
        attn = MixedAttention(self.kinds, self.embed, self.heads, **width, **rel, **({"causal": True} if self.causal else {}))
        cross = None
        if self.cross is not None:
            cross = MixedAttention(("softmax",), self.embed, self.cross.heads, **width, max_kv_embed=self.cross.kv_embed)
        return TransformerLayer(attn, FeedForward(self.embed, self.ffn, self.activation), self.embed, self.norm_first,
                                cross_attn=cross)
