"""Multi-head attention with elastic heads and three kinds: softmax, cosFormer (linear) and relative.

The attention core is one function shared by the elastic and the extracted module, so a subnet and its
extraction compute the same thing by construction. Every product is a `matmul`, which keeps the
operator description (`_ops.attention`) and fvcore's trace in agreement.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces.elastic._base import ElasticModule, export_module, frozen_copy
from hwnas.search_spaces.elastic.linear import ElasticLinear

ATTENTION_KINDS = ("cosformer", "softmax", "relative")
COSFORMER_EPS = 1e-3


def _cosformer_features(x: torch.Tensor, length: int) -> torch.Tensor:
    """ReLU features re-weighted by cos(π/2·(i-j)/M) through the sin/cos decomposition (cosFormer)."""
    n = x.shape[-2]
    angle = (math.pi / 2) * torch.arange(1, n + 1, device=x.device, dtype=x.dtype) / length
    x = F.relu(x)
    return torch.cat([x * torch.sin(angle)[:, None], x * torch.cos(angle)[:, None]], dim=-1)


def relative_positions(n_q: int, n_kv: int, rel_range: int, device: torch.device) -> torch.Tensor:
    """Row index into a (2·range+1)-row key table for every (query i, key j): clip(j-i) + range."""
    offsets = torch.arange(n_kv, device=device)[None, :] - torch.arange(n_q, device=device)[:, None]
    return offsets.clamp(-rel_range, rel_range) + rel_range


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kind: str, causal: bool = False,
           rel_table: torch.Tensor | None = None) -> torch.Tensor:
    """Attention of (B, H, Nq, D) queries over (B, H, Nk, D) keys/values; returns (B, H, Nq, D)."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    mask = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).tril(n_k - n_q) if causal else None
    if kind == "cosformer":
        q_, k_ = _cosformer_features(q, max(n_q, n_k)), _cosformer_features(k, max(n_q, n_k))
        if mask is None:
            numerator = q_ @ (k_.transpose(-1, -2) @ v)
            denominator = q_ @ k_.sum(dim=-2).unsqueeze(-1)
        else:
            scores = (q_ @ k_.transpose(-1, -2)).masked_fill(~mask, 0.0)
            numerator, denominator = scores @ v, scores.sum(dim=-1, keepdim=True)
        return numerator / denominator.clamp_min(COSFORMER_EPS)
    if kind not in ("softmax", "relative"):
        raise ValueError(f"unknown attention kind {kind!r}; choose one of {ATTENTION_KINDS}")
    q = q * q.shape[-1] ** -0.5
    scores = q @ k.transpose(-1, -2)
    if kind == "relative":
        assert rel_table is not None, "relative attention needs a key table"
        rel_range = (rel_table.shape[0] - 1) // 2
        keys = rel_table[relative_positions(n_q, n_k, rel_range, q.device)]  # (Nq, Nk, D)
        b, h, _, d = q.shape
        per_query = q.permute(2, 0, 1, 3).reshape(n_q, b * h, d)
        bias = (per_query @ keys.transpose(1, 2)).reshape(n_q, b, h, n_k).permute(1, 2, 0, 3)
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


class _AttentionForward(nn.Module, ABC):
    """Projection, head split and merge shared by the elastic and the plain attention modules."""

    kind: str
    causal: bool

    @abstractmethod
    def _heads(self) -> int:
        """Number of heads the projections are split into."""

    @abstractmethod
    def _rel_table(self) -> torch.Tensor | None:
        """The (2·range+1, head_dim) relative key table, or None for other kinds."""

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        """Self-attention over `x` (B, N, C), or cross-attention to `memory` (B, M, C_mem)."""
        source = x if memory is None else memory
        heads, (b, n, _), m = self._heads(), x.shape, source.shape[1]
        q = self.q_proj(x).reshape(b, n, heads, -1).transpose(1, 2)
        k = self.k_proj(source).reshape(b, m, heads, -1).transpose(1, 2)
        v = self.v_proj(source).reshape(b, m, heads, -1).transpose(1, 2)
        out = attend(q, k, v, self.kind, self.causal, self._rel_table())
        return self.out_proj(out.transpose(1, 2).reshape(b, n, -1))


class Attention(_AttentionForward):
    """Plain multi-head attention of one kind: what an extracted subnet contains."""

    def __init__(self, kind: str, heads: int, causal: bool, q_proj: nn.Module, k_proj: nn.Module,
                 v_proj: nn.Module, out_proj: nn.Module, rel_table: torch.Tensor | None = None) -> None:
        super().__init__()
        self.kind, self.heads, self.causal = kind, heads, causal
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = q_proj, k_proj, v_proj, out_proj
        self.rel_keys = None if rel_table is None else frozen_copy(rel_table)

    def _heads(self) -> int:
        return self.heads

    def _rel_table(self) -> torch.Tensor | None:
        return self.rel_keys


class ElasticAttention(_AttentionForward, ElasticModule):
    """Attention of one kind with elastic heads and embed widths.

    Either `head_dim` is fixed (qkv width = heads·head_dim, sliced; mixFormer, LightHuBERT) or `qkv_dim`
    is fixed (head width = qkv_dim/heads; HAT). Relative attention keeps a (2·R+1, head_dim) key table
    shared by heads; a smaller range uses its centre rows.
    """

    def __init__(self, kind: str, max_embed: int, max_heads: int, *, head_dim: int | None = None,
                 qkv_dim: int | None = None, max_kv_embed: int | None = None, causal: bool = False,
                 max_rel_range: int = 0) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"unknown attention kind {kind!r}; choose one of {ATTENTION_KINDS}")
        if (head_dim is None) == (qkv_dim is None):
            raise ValueError("give exactly one of head_dim (elastic qkv width) or qkv_dim (fixed qkv width)")
        if kind == "relative" and head_dim is None:
            raise ValueError("relative attention needs a fixed head_dim (its key table has that width)")
        self.kind, self.causal, self.head_dim, self.qkv_dim = kind, causal, head_dim, qkv_dim
        max_qkv = qkv_dim or max_heads * head_dim  # type: ignore[operator]
        self.q_proj = ElasticLinear(max_embed, max_qkv)
        self.k_proj = ElasticLinear(max_kv_embed or max_embed, max_qkv)
        self.v_proj = ElasticLinear(max_kv_embed or max_embed, max_qkv)
        self.out_proj = ElasticLinear(max_qkv, max_embed)
        self.max_rel_range = max_rel_range if kind == "relative" else 0
        if self.max_rel_range:
            self.rel_keys = nn.Parameter(nn.init.xavier_uniform_(torch.empty(2 * max_rel_range + 1, head_dim)))
        self.active_heads, self.active_rel_range = max_heads, self.max_rel_range

    def configure(self, heads: int, embed: int, kv_embed: int | None = None, rel_range: int = 0) -> None:
        qkv = self.qkv_dim or heads * self.head_dim  # type: ignore[operator]
        if qkv % heads:
            raise ValueError(f"qkv width {qkv} is not divisible by {heads} heads")
        kv_embed = kv_embed or embed
        self.q_proj.configure(embed, qkv)
        self.k_proj.configure(kv_embed, qkv)
        self.v_proj.configure(kv_embed, qkv)
        self.out_proj.configure(qkv, embed)
        if self.kind == "relative" and not 0 < rel_range <= self.max_rel_range:
            raise ValueError(f"relative range {rel_range} outside 1..{self.max_rel_range}")
        self.active_heads, self.active_rel_range = heads, rel_range if self.kind == "relative" else 0

    def _heads(self) -> int:
        return self.active_heads

    def _rel_table(self) -> torch.Tensor | None:
        if not self.max_rel_range:
            return None
        centre, r = self.max_rel_range, self.active_rel_range
        return self.rel_keys[centre - r : centre + r + 1]

    def export(self) -> Attention:
        projections = [export_module(p) for p in (self.q_proj, self.k_proj, self.v_proj, self.out_proj)]
        return Attention(self.kind, self.active_heads, self.causal, *projections, rel_table=self._rel_table())


class MixedAttention(ElasticModule):
    """One attention module per allowed kind; the active kind's module runs (mixFormer's per-layer choice)."""

    def __init__(self, kinds: tuple[str, ...], max_embed: int, max_heads: int, **options: object) -> None:
        super().__init__()
        self.by_kind = nn.ModuleDict({kind: ElasticAttention(kind, max_embed, max_heads, **options) for kind in kinds})  # type: ignore[arg-type]
        self.active_kind = kinds[-1]

    def configure(self, kind: str, heads: int, embed: int, kv_embed: int | None = None, rel_range: int = 0) -> None:
        if kind not in self.by_kind:
            raise ValueError(f"attention kind {kind!r} not in this supernet's kinds {list(self.by_kind)}")
        self.active_kind = kind
        self.by_kind[kind].configure(heads, embed, kv_embed, rel_range)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        return self.by_kind[self.active_kind](x, memory)

    def export(self) -> Attention:
        return self.by_kind[self.active_kind].export()
