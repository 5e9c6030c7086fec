"""Convolutional blocks shared by the conv spaces: MobileDets' IBN / fused IBN / Tucker and EMOv2's i2RMB.

Blocks are containers of elastic leaves: `forward` only calls children (plus residual arithmetic), so an
extracted subnet reuses the same class with plain children. `configure(...)` runs on the supernet side
only. Each block also has a static `ops(...)` that describes one sample's operators at given sizes, kept
beside the forward it describes so the two stay in step (the tests check them against fvcore).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._ops import OpSpec
from hwnas.search_spaces.elastic.conv import (
    ChannelsLast, ElasticActivation, ElasticBatchNorm2d, ElasticChoice, ElasticConv2d, ElasticDepthwiseConv2d,
    ElasticLayerScale,
)

HW = tuple[int, int]


def make_divisible(filters: float, ratio: float = 1.0, base: int = 8) -> int:
    """`filters·ratio` rounded half up to a multiple of `base` (at least `base`): MobileDets' _scale_filters."""
    return max(int(int(filters) * ratio / base + 0.5) * base, base)


def conv_out(hw: HW, k: int, stride: int) -> HW:
    return ops.conv_out_len(hw[0], k, stride, k // 2), ops.conv_out_len(hw[1], k, stride, k // 2)


def conv_ops(cin: int, cout: int, k: int, stride: int, hw: HW, act: str, *, groups: int = 1, bias: bool = False,
             norm: bool = True) -> tuple[list[OpSpec], HW]:
    """Ops of conv (→ BatchNorm) (→ activation) and the output size."""
    out = conv_out(hw, k, stride)
    result = [ops.conv2d(cin, cout, k, stride, hw, groups=groups, padding=k // 2, bias=bias)]
    if norm:
        result.append(ops.batchnorm(cout, out))
    if act != "identity":
        result.append(ops.act(act, cout * out[0] * out[1]))
    return result, out


class ConvNormAct(nn.Module):
    """conv → norm → activation (norm and activation may be identities)."""

    def __init__(self, conv: nn.Module, norm: nn.Module | None = None, act: nn.Module | None = None) -> None:
        super().__init__()
        self.conv = conv
        self.norm = nn.Identity() if norm is None else norm
        self.act = nn.Identity() if act is None else act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))

    def configure(self, cin: int, cout: int, kernel: int | None = None, act: str | None = None) -> None:
        if isinstance(self.conv, ElasticDepthwiseConv2d):
            if cin != cout:
                raise ValueError(f"a depthwise conv keeps its width; got {cin}→{cout}")
            self.conv.configure(cout, kernel)
        else:
            self.conv.configure(cin, cout, kernel)
        if isinstance(self.norm, ElasticBatchNorm2d):
            self.norm.active_features = cout
        if act is not None:
            self.act.configure(act)


def conv_bn_act(max_in: int, max_out: int, kernels: int | Sequence[int] = 1, stride: int = 1, act: str = "relu6",
                eps: float = 1e-3, bias: bool = False, norm: bool = True) -> ConvNormAct:
    return ConvNormAct(ElasticConv2d(max_in, max_out, kernels, stride, bias),
                       ElasticBatchNorm2d(max_out, eps) if norm else None, ElasticActivation(act))


def dw_bn_act(max_channels: int, kernels: int | Sequence[int], stride: int, act: str, eps: float = 1e-3) -> ConvNormAct:
    return ConvNormAct(ElasticDepthwiseConv2d(max_channels, kernels, stride), ElasticBatchNorm2d(max_channels, eps),
                       ElasticActivation(act))


class SqueezeExcite(nn.Module):
    """x · sigmoid(W₂·act(W₁·mean(x))): channel gates from the spatial mean (MobileNetV3, MobileDets)."""

    def __init__(self, max_channels: int, max_hidden: int, act: str) -> None:
        super().__init__()
        self.reduce = ElasticConv2d(max_channels, max_hidden, 1, bias=True)
        self.act = ElasticActivation(act)
        self.expand = ElasticConv2d(max_hidden, max_channels, 1, bias=True)

    def configure(self, channels: int, hidden: int, act: str) -> None:
        self.reduce.configure(channels, hidden)
        self.act.configure(act)
        self.expand.configure(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(squeezed))))

    @staticmethod
    def ops(channels: int, hidden: int, hw: HW, act: str) -> list[OpSpec]:
        numel = channels * hw[0] * hw[1]
        return [ops.pool("mean", numel, channels), ops.conv2d(channels, hidden, 1, 1, (1, 1)), ops.act(act, hidden),
                ops.conv2d(hidden, channels, 1, 1, (1, 1)), ops.act("sigmoid", channels), ops.mul(numel)]


def _optional_se(max_channels: int, act: str, se: bool) -> nn.Module:
    """SE that subnets switch on or off (its hidden width is at most 0.25 of the channels, the largest ratio)."""
    if not se:
        return nn.Identity()
    return ElasticChoice({"off": None, "on": SqueezeExcite(max_channels, make_divisible(max_channels, 0.25), act)})


def _configure_se(se: nn.Module, channels: int, ratio: float, act: str) -> None:
    if not isinstance(se, ElasticChoice):
        if ratio:
            raise ValueError("squeeze-excite requested from a layer built without it")
        return
    if ratio:
        se.configure("on").configure(channels, make_divisible(channels, ratio), act)
    else:
        se.configure("off")


def _se_ops(channels: int, ratio: float, hw: HW, act: str) -> list[OpSpec]:
    return SqueezeExcite.ops(channels, make_divisible(channels, ratio), hw, act) if ratio else []


class _ResidualBody(nn.Module):
    """A chain of children with an optional identity shortcut around it (first layers of a stage have none)."""

    residual: bool
    steps: tuple[str, ...]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for name in self.steps:
            h = getattr(self, name)(h)
        return x + h if self.residual else h


class InvertedBottleneck(_ResidualBody):
    """1×1 expansion → k×k depthwise → (SE) → linear 1×1 projection; expansion 1 drops the first conv."""

    steps = ("expand", "depthwise", "se", "project")

    def __init__(self, max_in: int, max_out: int, kernels: Sequence[int], stride: int, expansions: Sequence[int],
                 residual: bool, se: bool, act: str, eps: float = 1e-3) -> None:
        super().__init__()
        mid = max_in * max(expansions)
        self.expand = conv_bn_act(max_in, mid, 1, 1, act, eps) if max(expansions) > 1 else nn.Identity()
        self.depthwise = dw_bn_act(mid, kernels, stride, act, eps)
        self.se = _optional_se(mid, act, se)
        self.project = conv_bn_act(mid, max_out, 1, 1, "identity", eps)
        self.residual = residual

    def configure(self, cin: int, cout: int, kernel: int, expansion: int, se_ratio: float, act: str) -> None:
        mid = cin * expansion
        if isinstance(self.expand, ConvNormAct):
            self.expand.configure(cin, mid, act=act)
        elif expansion != 1:
            raise ValueError(f"expansion {expansion} asked of an inverted bottleneck built without expansion")
        self.depthwise.configure(mid, mid, kernel, act)
        _configure_se(self.se, mid, se_ratio, act)
        self.project.configure(mid, cout)

    @staticmethod
    def ops(cin: int, cout: int, kernel: int, expansion: int, stride: int, hw: HW, residual: bool, se_ratio: float,
            act: str) -> tuple[list[OpSpec], HW]:
        mid, result = cin * expansion, []
        if expansion > 1:
            result += conv_ops(cin, mid, 1, 1, hw, act)[0]
        dw, out = conv_ops(mid, mid, kernel, stride, hw, act, groups=mid)
        result += dw + _se_ops(mid, se_ratio, out, act) + conv_ops(mid, cout, 1, 1, out, "identity")[0]
        return result + ([ops.add(cout * out[0] * out[1])] if residual else []), out


class FusedInvertedBottleneck(_ResidualBody):
    """k×k full conv expansion (strided) → (SE) → linear 1×1 projection: MobileDets' fused IBN."""

    steps = ("expand", "se", "project")

    def __init__(self, max_in: int, max_out: int, kernels: Sequence[int], stride: int, expansions: Sequence[int],
                 residual: bool, se: bool, act: str, eps: float = 1e-3) -> None:
        super().__init__()
        mid = max_in * max(expansions)
        self.expand = conv_bn_act(max_in, mid, kernels, stride, act, eps)
        self.se = _optional_se(mid, act, se)
        self.project = conv_bn_act(mid, max_out, 1, 1, "identity", eps)
        self.residual = residual

    def configure(self, cin: int, cout: int, kernel: int, expansion: int, se_ratio: float, act: str) -> None:
        mid = cin * expansion
        self.expand.configure(cin, mid, kernel, act)
        _configure_se(self.se, mid, se_ratio, act)
        self.project.configure(mid, cout)

    @staticmethod
    def ops(cin: int, cout: int, kernel: int, expansion: int, stride: int, hw: HW, residual: bool, se_ratio: float,
            act: str) -> tuple[list[OpSpec], HW]:
        mid = cin * expansion
        expand, out = conv_ops(cin, mid, kernel, stride, hw, act)
        result = expand + _se_ops(mid, se_ratio, out, act) + conv_ops(mid, cout, 1, 1, out, "identity")[0]
        return result + ([ops.add(cout * out[0] * out[1])] if residual else []), out


class TuckerBlock(_ResidualBody):
    """1×1 compression to in_ratio·cin → k×k full conv to out_ratio·cout → linear 1×1 to cout (MobileDets)."""

    steps = ("compress", "conv", "expand")

    def __init__(self, max_in: int, max_out: int, kernels: Sequence[int], stride: int, ratios: Sequence[float],
                 residual: bool, act: str, eps: float = 1e-3) -> None:
        super().__init__()
        in_rank, out_rank = make_divisible(max_in, max(ratios)), make_divisible(max_out, max(ratios))
        self.compress = conv_bn_act(max_in, in_rank, 1, 1, act, eps)
        self.conv = conv_bn_act(in_rank, out_rank, kernels, stride, act, eps)
        self.expand = conv_bn_act(out_rank, max_out, 1, 1, "identity", eps)
        self.residual = residual

    @staticmethod
    def ranks(cin: int, cout: int, in_ratio: float, out_ratio: float) -> tuple[int, int]:
        return make_divisible(cin, in_ratio), make_divisible(cout, out_ratio)

    def configure(self, cin: int, cout: int, kernel: int, in_ratio: float, out_ratio: float, act: str) -> None:
        in_rank, out_rank = self.ranks(cin, cout, in_ratio, out_ratio)
        self.compress.configure(cin, in_rank, act=act)
        self.conv.configure(in_rank, out_rank, kernel, act)
        self.expand.configure(out_rank, cout)

    @staticmethod
    def ops(cin: int, cout: int, kernel: int, in_ratio: float, out_ratio: float, stride: int, hw: HW, residual: bool,
            act: str) -> tuple[list[OpSpec], HW]:
        in_rank, out_rank = TuckerBlock.ranks(cin, cout, in_ratio, out_ratio)
        compress = conv_ops(cin, in_rank, 1, 1, hw, act)[0]
        conv, out = conv_ops(in_rank, out_rank, kernel, stride, hw, act)
        result = compress + conv + conv_ops(out_rank, cout, 1, 1, out, "identity")[0]
        return result + ([ops.add(cout * out[0] * out[1])] if residual else []), out


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

    def __init__(self, max_in: int, max_mid: int, max_heads: int, max_head_dim: int, window: int, act: str) -> None:
        super().__init__()
        self.q = ElasticConv2d(max_in, max_heads * max_head_dim, 1, bias=True)
        self.k = ElasticConv2d(max_in, max_heads * max_head_dim, 1, bias=True)
        self.v = ConvNormAct(ElasticConv2d(max_in, max_mid, 1, bias=True), None, ElasticActivation(act))
        self.heads, self.head_dim, self.window = max_heads, max_head_dim, window

    def configure(self, cin: int, mid: int, heads: int, head_dim: int) -> None:
        self.q.configure(cin, heads * head_dim)
        self.k.configure(cin, heads * head_dim)
        self.v.configure(cin, mid)
        self.heads, self.head_dim = heads, head_dim

    @staticmethod
    def layout(hw: HW, window: int) -> tuple[HW, int, int]:
        """Padded size, number of windows and tokens per window for an input of size `hw`."""
        wh, ww = hw if window <= 0 else (window, window)
        padded = (hw[0] + (-hw[0]) % wh, hw[1] + (-hw[1]) % ww)
        return padded, (padded[0] // wh) * (padded[1] // ww), wh * ww

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        (ph, pw), _, _ = self.layout((h, w), self.window)
        x = nn.functional.pad(x, (0, pw - w, 0, ph - h))
        n1, n2 = (1, 1) if self.window <= 0 else (ph // self.window, pw // self.window)
        q, k, v = self.q(x), self.k(x), self.v(x)
        out = sum(_unpartition(window_attention(*(_partition(t, n1, n2, dilated) for t in (q, k, v)), self.heads,
                                                self.head_dim), n1, n2, dilated) for dilated in (True, False))
        return out[:, :, :h, :w]

    @staticmethod
    def ops(cin: int, mid: int, heads: int, head_dim: int, window: int, hw: HW, act: str) -> list[OpSpec]:
        padded, windows, tokens = SpanningWindowAttention.layout(hw, window)
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

    def configure(self, cin: int, cout: int, mid: int, kernel: int, attention: tuple[int, int] | None = None) -> None:
        """Set the active sizes; `attention` = (heads, head_dim) selects the attention expansion."""
        if isinstance(self.norm, ElasticBatchNorm2d):
            self.norm.active_features = cin
        elif isinstance(self.norm, ChannelsLast):
            self.norm.inner.active_dim = cin
        mixer = self.mixer
        if isinstance(mixer, ElasticChoice):
            mixer = mixer.configure("conv" if attention is None else "attn")
        elif attention is not None:
            raise ValueError(f"attention {attention} asked of a block built with a 1×1 conv expansion only")
        if attention is None:
            mixer.configure(cin, mid)
        else:
            mixer.configure(cin, mid, *attention)
        self.local.configure(mid, mid, kernel)
        self.proj.configure(mid, cout)
        if isinstance(self.scale, ElasticLayerScale):
            self.scale.active_channels = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.mixer(self.norm(x))
        local = self.local(x)
        x = self.scale(self.proj(x + local if self.skip else local))
        return shortcut + x if self.skip else x

    @staticmethod
    def ops(cin: int, cout: int, mid: int, kernel: int, stride: int, hw: HW, norm: str, act: str, skip: bool,
            attention: tuple[int, int, int] | None = None) -> tuple[list[OpSpec], HW]:
        """`norm` is 'bn' or 'ln'; `attention` = (heads, head_dim, window), None for the 1×1 conv expansion."""
        n = hw[0] * hw[1]
        result = [ops.batchnorm(cin, hw) if norm == "bn" else ops.layernorm(n, cin)]
        if attention is None:
            result += conv_ops(cin, mid, 1, 1, hw, act, bias=True, norm=False)[0]
        else:
            result += SpanningWindowAttention.ops(cin, mid, *attention, hw, act)
        local, out = conv_ops(mid, mid, kernel, stride, hw, "silu", groups=mid)
        result += local + ([ops.add(mid * out[0] * out[1])] if skip else [])
        numel = cout * out[0] * out[1]
        result += [ops.conv2d(mid, cout, 1, 1, out, bias=False), ops.param(cout, "layer_scale"), ops.mul(numel)]
        return result + ([ops.add(numel)] if skip else []), out
