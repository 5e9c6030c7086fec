"""Mobile conv blocks (MobileDets' IBN / fused IBN / Tucker, a conv stem), the modules their specs build.

Blocks are containers of elastic leaves: `forward` only calls children (plus residual arithmetic), so an
extracted subnet reuses the same class with plain children. Each block has a frozen spec in `_conv_specs`:
the spec builds the supernet block (`build()`), describes one sample's operators (`ops()`), and the block's
`configure(spec)` activates it, so the three can only change together (the tests check ops against fvcore).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from hwnas.search_spaces._conv_math import make_divisible, se_hidden
from hwnas.search_spaces.elastic.conv import (
    ElasticActivation, ElasticBatchNorm2d, ElasticChoice, ElasticConv2d, ElasticDepthwiseConv2d,
)

__all__ = [
    "ChannelShuffle", "ConvNormAct", "FusedInvertedBottleneck", "GroupedBottleneck", "InvertedBottleneck", "SkipLayer",
    "SqueezeExcite", "TuckerBlock", "conv_bn_act", "dw_bn_act", "fbnet_slot",
]

if TYPE_CHECKING:
    from hwnas.search_spaces._conv_specs import ConvSpec, FBNetLayerSpec, FusedIBNSpec, IBNSpec, TuckerSpec


class ConvNormAct(nn.Module):
    """conv → norm → activation (norm and activation may be identities)."""

    def __init__(self, conv: nn.Module, norm: nn.Module | None = None, act: nn.Module | None = None) -> None:
        super().__init__()
        self.conv = conv
        self.norm = nn.Identity() if norm is None else norm
        self.act = nn.Identity() if act is None else act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))

    def resize(self, cin: int, cout: int, kernel: int | None = None, act: str | None = None) -> None:
        """Set the active sizes when this is a part of a block (the block owns the spec)."""
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

    def configure(self, spec: ConvSpec) -> None:
        """Activate `spec` when this is a block of its own (a stem)."""
        self.resize(spec.cin, spec.cout, act=spec.act)


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


def _optional_se(max_channels: int, act: str, se: bool, rounding: str) -> nn.Module:
    """SE that subnets switch on or off (its hidden width is at most 0.25 of the channels, the largest ratio)."""
    if not se:
        return nn.Identity()
    return ElasticChoice({"off": None, "on": SqueezeExcite(max_channels, se_hidden(max_channels, 0.25, rounding), act)})


def _configure_se(se: nn.Module, channels: int, ratio: float, act: str, rounding: str) -> None:
    if not isinstance(se, ElasticChoice):
        if ratio:
            raise ValueError("squeeze-excite requested from a layer built without it")
        return
    if ratio:
        se.configure("on").configure(channels, se_hidden(channels, ratio, rounding), act)
    else:
        se.configure("off")


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
                 residual: bool, se: bool, act: str, eps: float = 1e-3, se_rounding: str = "mobiledets") -> None:
        super().__init__()
        mid = max_in * max(expansions)
        self.expand = conv_bn_act(max_in, mid, 1, 1, act, eps) if max(expansions) > 1 else nn.Identity()
        self.depthwise = dw_bn_act(mid, kernels, stride, act, eps)
        self.se = _optional_se(mid, act, se, se_rounding)
        self.project = conv_bn_act(mid, max_out, 1, 1, "identity", eps)
        self.residual = residual

    def configure(self, spec: IBNSpec) -> None:
        mid = spec.cin * spec.expansion
        if isinstance(self.expand, ConvNormAct):
            self.expand.resize(spec.cin, mid, act=spec.act)
        elif spec.expansion != 1:
            raise ValueError(f"expansion {spec.expansion} asked of an inverted bottleneck built without expansion")
        self.depthwise.resize(mid, mid, spec.kernel, spec.act)
        _configure_se(self.se, mid, spec.se_ratio, spec.act, spec.se_rounding)
        self.project.resize(mid, spec.cout)


class FusedInvertedBottleneck(_ResidualBody):
    """k×k full conv expansion (strided) → (SE) → linear 1×1 projection: MobileDets' fused IBN."""

    steps = ("expand", "se", "project")

    def __init__(self, max_in: int, max_out: int, kernels: Sequence[int], stride: int, expansions: Sequence[int],
                 residual: bool, se: bool, act: str, eps: float = 1e-3, se_rounding: str = "mobiledets") -> None:
        super().__init__()
        mid = max_in * max(expansions)
        self.expand = conv_bn_act(max_in, mid, kernels, stride, act, eps)
        self.se = _optional_se(mid, act, se, se_rounding)
        self.project = conv_bn_act(mid, max_out, 1, 1, "identity", eps)
        self.residual = residual

    def configure(self, spec: FusedIBNSpec) -> None:
        mid = spec.cin * spec.expansion
        self.expand.resize(spec.cin, mid, spec.kernel, spec.act)
        _configure_se(self.se, mid, spec.se_ratio, spec.act, spec.se_rounding)
        self.project.resize(mid, spec.cout)


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

    def configure(self, spec: TuckerSpec) -> None:
        in_rank, out_rank = spec.ranks
        self.compress.resize(spec.cin, in_rank, act=spec.act)
        self.conv.resize(in_rank, out_rank, spec.kernel, spec.act)
        self.expand.resize(out_rank, spec.cout)


class ChannelShuffle(nn.Module):
    """Interleave the channels of `groups` groups (ShuffleNet), so grouped 1×1 convs mix across groups."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class GroupedBottleneck(_ResidualBody):
    """FBNet's grouped block: grouped 1×1 conv (BatchNorm, ReLU) → shuffle → k×k depthwise → grouped 1×1 conv."""

    steps = ("expand", "shuffle", "depthwise", "project")

    def __init__(self, cin: int, cout: int, kernels: Sequence[int], stride: int, groups: int, residual: bool, eps: float) -> None:
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(cin, cin, 1, groups=groups, bias=False), nn.BatchNorm2d(cin, eps=eps), nn.ReLU())
        self.shuffle = ChannelShuffle(groups)
        self.depthwise = dw_bn_act(cin, kernels, stride, "relu", eps)
        self.project = nn.Sequential(nn.Conv2d(cin, cout, 1, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=eps))
        self.residual = residual

    def configure(self, spec: FBNetLayerSpec) -> None:
        self.depthwise.resize(spec.cin, spec.cin, spec.kernel, "relu")


class SkipLayer(nn.Module):
    """FBNet's `skip`: the identity, or 1×1 conv (BatchNorm, ReLU) where stride or width change."""

    def __init__(self, cin: int, cout: int, stride: int, eps: float) -> None:
        super().__init__()
        self.conv = nn.Identity() if stride == 1 and cin == cout else conv_bn_act(cin, cout, 1, stride, "relu", eps)

    def configure(self, spec: FBNetLayerSpec) -> None:
        if isinstance(self.conv, ConvNormAct):
            self.conv.resize(spec.cin, spec.cout, act="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def fbnet_slot(spec: FBNetLayerSpec) -> ElasticChoice:
    """Every block an FBNet layer offers: dense blocks share one bottleneck (elastic kernel and expansion),
    grouped blocks another; `skip` its own."""
    c, residual = (spec.cin, spec.cout, [3, 5], spec.stride), spec.identity
    return ElasticChoice({"ibn": InvertedBottleneck(*c, [1, 3, 6], residual, False, "relu", spec.eps),
                          "grouped": GroupedBottleneck(*c, 2, residual, spec.eps),
                          "skip": SkipLayer(spec.cin, spec.cout, spec.stride, spec.eps)})
