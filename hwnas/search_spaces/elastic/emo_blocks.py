"""EMOv2's blocks (its stem, the i2RMB with an optional spanning window attention) and their specs.

As in `conv_blocks`: blocks are containers whose forward only calls children; each spec builds its
supernet block, describes one sample's operators, and the block's `configure(spec)` activates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._block import HW, BuildableSpec
from hwnas.search_spaces._ops import OpSpec
from hwnas.search_spaces.elastic.conv import (
    ChannelsLast, ElasticActivation, ElasticBatchNorm2d, ElasticChoice, ElasticConv2d, ElasticLayerScale,
)
from hwnas.search_spaces.elastic.conv_blocks import ConvNormAct, conv_ops, conv_out, dw_bn_act
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

EPS = 1e-6  # the official norms' epsilon
LAYER_SCALE_INIT = 1e-6  # the official ls_value


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


def window_layout(hw: HW, window: int) -> tuple[HW, int, int]:
    """Padded size, number of windows and tokens per window for an input of size `hw` (window ≤ 0: global)."""
    wh, ww = hw if window <= 0 else (window, window)
    padded = (hw[0] + (-hw[0]) % wh, hw[1] + (-hw[1]) % ww)
    return padded, (padded[0] // wh) * (padded[1] // ww), wh * ww


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


def spanning_attention_ops(cin: int, mid: int, heads: int, head_dim: int, window: int, hw: HW, act: str) -> list[OpSpec]:
    padded, windows, tokens = window_layout(hw, window)
    qk = heads * head_dim
    return [ops.conv2d(cin, qk, 1, 1, padded), ops.conv2d(cin, qk, 1, 1, padded),
            *conv_ops(cin, mid, 1, 1, padded, act, bias=True, norm=False)[0],
            ops.window_attention(windows, tokens, heads, qk, mid, branches=2), ops.add(mid * padded[0] * padded[1])]


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


@dataclass(frozen=True)
class I2RMBSpec(BuildableSpec):
    """One i2RMB: `norm` is 'bn' or 'ln'; `attention` = (heads, head_dim), None for the 1×1 conv expansion;
    `kernels` are the depthwise sizes its slot offers; `stage` the index of its stage."""

    cin: int
    cout: int
    mid: int
    kernel: int
    stride: int
    skip: bool
    norm: str
    act: str
    attention: tuple[int, int] | None
    window: int
    hw: HW
    kernels: tuple[int, ...]
    stage: int

    @property
    def out_hw(self) -> HW:
        return conv_out(self.hw, self.kernel, self.stride)

    @property
    def windows(self) -> tuple[HW, int, int]:
        """(padded input size, number of windows, tokens per window) of its attention."""
        return window_layout(self.hw, self.window)

    def ops(self) -> list[OpSpec]:
        hw, cin, mid, cout = self.hw, self.cin, self.mid, self.cout
        result = [ops.batchnorm(cin, hw) if self.norm == "bn" else ops.layernorm(hw[0] * hw[1], cin)]
        if self.attention is None:
            result += conv_ops(cin, mid, 1, 1, hw, self.act, bias=True, norm=False)[0]
        else:
            result += spanning_attention_ops(cin, mid, *self.attention, self.window, hw, self.act)
        local, out = conv_ops(mid, mid, self.kernel, self.stride, hw, "silu", groups=mid)
        result += local + ([ops.add(mid * out[0] * out[1])] if self.skip else [])
        numel = cout * out[0] * out[1]
        result += [ops.conv2d(mid, cout, 1, 1, out, bias=False), ops.param(cout, "layer_scale"), ops.mul(numel)]
        return result + ([ops.add(numel)] if self.skip else [])

    def build(self) -> I2RMB:
        """A supernet i2RMB at these (largest) sizes; with `attention`, the slot also offers the conv expansion."""
        norm = ElasticBatchNorm2d(self.cin, EPS) if self.norm == "bn" else ChannelsLast(ElasticLayerNorm(self.cin, EPS))
        mixer: nn.Module = ConvNormAct(ElasticConv2d(self.cin, self.mid, 1, bias=True), None, ElasticActivation(self.act))
        if self.attention is not None:
            heads, head_dim = self.attention
            mixer = ElasticChoice({"conv": mixer, "attn": SpanningWindowAttention(self.cin, self.mid, heads, head_dim,
                                                                                  self.window, self.act)})
        return I2RMB(norm, mixer, dw_bn_act(self.mid, self.kernels, self.stride, "silu", EPS),
                     ElasticConv2d(self.mid, self.cout, 1), ElasticLayerScale(self.cout, LAYER_SCALE_INIT), self.skip)


class EMOv2Stem(nn.Sequential):
    """3×3 stride-2 conv (bias, BatchNorm, SiLU) → 3×3 depthwise (BatchNorm, SiLU) → 1×1 conv."""

    def configure(self, spec: EMOv2StemSpec) -> None:
        self[0].resize(self[0].conv.max_in, spec.width)  # type: ignore[operator,union-attr]
        self[1].resize(spec.width, spec.width)  # type: ignore[operator]
        self[2].configure(spec.width, spec.width)  # type: ignore[operator]


@dataclass(frozen=True)
class EMOv2StemSpec(BuildableSpec):
    cin: int
    width: int
    hw: HW

    @property
    def out_hw(self) -> HW:
        return conv_out(self.hw, 3, 2)

    def ops(self) -> list[OpSpec]:
        w = self.width
        result, hw = conv_ops(self.cin, w, 3, 2, self.hw, "silu", bias=True)
        return result + conv_ops(w, w, 3, 1, hw, "silu", groups=w)[0] + [ops.conv2d(w, w, 1, 1, hw, bias=False)]

    def build(self) -> EMOv2Stem:
        w = self.width
        return EMOv2Stem(ConvNormAct(ElasticConv2d(self.cin, w, 3, 2, bias=True), ElasticBatchNorm2d(w, EPS),
                                     ElasticActivation("silu")),
                         dw_bn_act(w, 3, 1, "silu", EPS), ElasticConv2d(w, w, 1))
