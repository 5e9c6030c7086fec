"""EMOv2's blocks (its stem, the i2RMB with an optional spanning window attention) and their specs.

As in `conv_blocks`: blocks are containers whose forward only calls children; each spec builds its
supernet block, describes one sample's operators, and the block's `configure(spec)` activates it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from hwnas.search_spaces._conv_math import EPS, layer_scale_init, window_layout
from hwnas.search_spaces.elastic.conv import (
    ChannelsLast, ElasticActivation, ElasticBatchNorm2d, ElasticChoice, ElasticConv2d, ElasticLayerScale,
)
from hwnas.search_spaces.elastic.conv_blocks import ConvNormAct, dw_bn_act
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

if TYPE_CHECKING:
    from hwnas.search_spaces._emo_specs import EMOv2StemSpec, I2RMBSpec


def _partition(x: torch.Tensor, n1: int, n2: int, dilated: bool) -> torch.Tensor:
    """(B, C, H, W) → (B·n1·n2, C, H/n1, W/n2): adjacent windows, or 'remote' windows of pixels n1/n2 apart."""
    b, c, h, w = x.shape
    if dilated:
        x = x.view(b, c, h // n1, n1, w // n2, n2).permute(0, 3, 5, 1, 2, 4)
    else:
        x = x.view(b, c, n1, h // n1, n2, w // n2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b * n1 * n2, c, h // n1, w // n2)


def _unpartition(x: torch.Tensor, n1: int, n2: int, dilated: bool) -> torch.Tensor:
    bw, c, h1, w1 = x.shape
    x = x.view(bw // (n1 * n2), n1, n2, c, h1, w1)
    x = x.permute(0, 3, 4, 1, 5, 2) if dilated else x.permute(0, 3, 1, 4, 2, 5)
    return x.reshape(bw // (n1 * n2), c, h1 * n1, w1 * n2)


def window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """Softmax attention inside each window: q, k (N, heads·head_dim, h, w), v (N, Cv, h, w) → (N, Cv, h, w).

    Values are split into `heads` channel groups: equal groups whenever `heads` divides Cv (every official
    EMOv2 model), nearly equal ones otherwise, so any heads/width pair of the space is a valid subnet.
    """
    n, cv, h, w = v.shape
    tokens = h * w
    q = q.reshape(n, heads, head_dim, tokens).transpose(-1, -2)
    k = k.reshape(n, heads, head_dim, tokens).transpose(-1, -2)
    attn = ((q @ k.transpose(-1, -2)) * head_dim**-0.5).softmax(dim=-1)
    if cv % heads == 0:
        out = attn @ v.reshape(n, heads, cv // heads, tokens).transpose(-1, -2)
        return out.transpose(-1, -2).reshape(n, cv, h, w)
    groups = torch.tensor_split(v.reshape(n, cv, tokens), heads, dim=1)
    return torch.cat([group @ attn[:, i].transpose(-1, -2) for i, group in enumerate(groups)], dim=1).reshape(n, cv, h, w)


class SpanningWindowAttention(nn.Module):
    """EMOv2's spanning window attention that also expands (the i2RMB's attention 'expansion').

    Values are a 1×1 conv (+ activation) to the block's inner width; queries and keys (heads·head_dim
    channels each) share one projection for two window partitions, adjacent pixels and pixels a window
    apart, whose attention outputs are summed. Inputs are zero-padded to whole windows first and the conv
    projections run on the padded map, as in the official code.
    """

    layout = staticmethod(window_layout)

    def __init__(self, max_in: int, max_mid: int, max_heads: int, max_head_dim: int, window: int, act: str) -> None:
        super().__init__()
        self.q = ElasticConv2d(max_in, max_heads * max_head_dim, 1, bias=True)
        self.k = ElasticConv2d(max_in, max_heads * max_head_dim, 1, bias=True)
        self.v = ConvNormAct(ElasticConv2d(max_in, max_mid, 1, bias=True), None, ElasticActivation(act))
        self.heads, self.head_dim, self.window = max_heads, max_head_dim, window

    def configure(self, cin: int, mid: int, heads: int, head_dim: int) -> None:
        self.q.configure(cin, heads * head_dim)
        self.k.configure(cin, heads * head_dim)
        self.v.resize(cin, mid)
        self.heads, self.head_dim = heads, head_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        (ph, pw), _, _ = window_layout((h, w), self.window)
        x = nn.functional.pad(x, (0, pw - w, 0, ph - h))
        n1, n2 = (1, 1) if self.window <= 0 else (ph // self.window, pw // self.window)
        q, k, v = self.q(x), self.k(x), self.v(x)
        out = sum(_unpartition(window_attention(*(_partition(t, n1, n2, dilated) for t in (q, k, v)), self.heads,
                                                self.head_dim), n1, n2, dilated) for dilated in (True, False))
        return out[:, :, :h, :w]


class I2RMB(nn.Module):
    """EMOv2's improved inverted residual mobile block.

    pre-norm → expansion (1×1 conv, or spanning window attention whose values expand) → depthwise conv with
    an inner skip → 1×1 projection → layer scale, plus the block's residual. The first block of a stage
    downsamples in its depthwise conv and has neither skip.
    """

    def __init__(self, norm: nn.Module, mixer: nn.Module, local: nn.Module, proj: nn.Module, scale: nn.Module,
                 skip: bool) -> None:
        super().__init__()
        self.norm, self.mixer, self.local, self.proj, self.scale = norm, mixer, local, proj, scale
        self.skip = skip

    @classmethod
    def from_spec(cls, spec: I2RMBSpec) -> I2RMB:
        norm = ElasticBatchNorm2d(spec.cin, EPS) if spec.norm == "bn" else ChannelsLast(ElasticLayerNorm(spec.cin, EPS))
        mixer: nn.Module = ConvNormAct(ElasticConv2d(spec.cin, spec.mid, 1, bias=True), None, ElasticActivation(spec.act))
        if spec.attention is not None:
            heads, head_dim = spec.attention
            mixer = ElasticChoice({"conv": mixer, "attn": SpanningWindowAttention(spec.cin, spec.mid, heads, head_dim,
                                                                                  spec.window, spec.act)})
        return cls(norm, mixer, dw_bn_act(spec.mid, spec.kernels, spec.stride, "silu", EPS),
                   ElasticConv2d(spec.mid, spec.cout, 1), ElasticLayerScale(spec.cout, layer_scale_init(spec.skip)), spec.skip)

    def configure(self, spec: I2RMBSpec) -> None:
        if isinstance(self.norm, ElasticBatchNorm2d):
            self.norm.active_features = spec.cin
        elif isinstance(self.norm, ChannelsLast):
            self.norm.inner.active_dim = spec.cin
        mixer = self.mixer
        if isinstance(mixer, ElasticChoice):
            mixer = mixer.configure("conv" if spec.attention is None else "attn")
        elif spec.attention is not None:
            raise ValueError(f"attention {spec.attention} asked of a block built with a 1×1 conv expansion only")
        if spec.attention is None:
            mixer.resize(spec.cin, spec.mid)
        else:
            mixer.configure(spec.cin, spec.mid, *spec.attention)
        self.local.resize(spec.mid, spec.mid, spec.kernel)
        self.proj.configure(spec.mid, spec.cout)
        if isinstance(self.scale, ElasticLayerScale):
            self.scale.active_channels = spec.cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.mixer(self.norm(x))
        local = self.local(x)
        x = self.scale(self.proj(x + local if self.skip else local))
        return shortcut + x if self.skip else x


class EMOv2Stem(nn.Sequential):
    """3×3 stride-2 conv (bias, BatchNorm, SiLU) → 3×3 depthwise (BatchNorm, SiLU) → 1×1 conv."""

    @classmethod
    def from_spec(cls, spec: EMOv2StemSpec) -> EMOv2Stem:
        w = spec.width
        return cls(ConvNormAct(ElasticConv2d(spec.cin, w, 3, 2, bias=True), ElasticBatchNorm2d(w, EPS),
                               ElasticActivation("silu")),
                   dw_bn_act(w, 3, 1, "silu", EPS), ElasticConv2d(w, w, 1))

    def configure(self, spec: EMOv2StemSpec) -> None:
        self[0].resize(self[0].conv.max_in, spec.width)  # type: ignore[operator,union-attr]
        self[1].resize(spec.width, spec.width)  # type: ignore[operator]
        self[2].configure(spec.width, spec.width)  # type: ignore[operator]
