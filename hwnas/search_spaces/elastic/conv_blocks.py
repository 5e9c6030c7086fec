"""Mobile conv blocks (MobileDets' IBN / fused IBN / Tucker, a conv stem) and the specs that describe them.

Blocks are containers of elastic leaves: `forward` only calls children (plus residual arithmetic), so an
extracted subnet reuses the same class with plain children. Each block has a frozen spec beside it: the
spec builds the supernet block (`build()`), describes one sample's operators (`ops()`), and the block's
`configure(spec)` activates it, so the three can only change together (the tests check ops against fvcore).

Layers are named by block strings, decoded once (`LayerOp.parse`): `ibn_k5_e8`, `fused_k3_e4`,
`tucker_k3_i0.25_o0.75` (input/output compression ratios).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._block import HW, BuildableSpec
from hwnas.search_spaces._ops import OpSpec
from hwnas.search_spaces.elastic.conv import (
    ElasticActivation, ElasticBatchNorm2d, ElasticChoice, ElasticConv2d, ElasticDepthwiseConv2d,
)

__all__ = [
    "HW", "ConvNormAct", "ConvSpec", "FusedInvertedBottleneck", "FusedIBNSpec", "IBNSpec", "InvertedBottleneck",
    "LayerOp", "MobileLayerSpec", "SqueezeExcite", "TuckerBlock", "TuckerSpec", "conv_bn_act", "conv_ops", "conv_out",
    "dw_bn_act", "make_divisible", "se_ops",
]


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


@dataclass(frozen=True)
class ConvSpec(BuildableSpec):
    """A k×k conv → BatchNorm → activation block (MobileDets' stem) with elastic output width."""

    cin: int
    cout: int
    kernel: int
    stride: int
    act: str
    hw: HW

    @property
    def out_hw(self) -> HW:
        return conv_out(self.hw, self.kernel, self.stride)

    def ops(self) -> list[OpSpec]:
        return conv_ops(self.cin, self.cout, self.kernel, self.stride, self.hw, self.act)[0]

    def build(self) -> ConvNormAct:
        return conv_bn_act(self.cin, self.cout, self.kernel, self.stride, self.act)


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


def se_ops(channels: int, ratio: float, hw: HW, act: str) -> list[OpSpec]:
    """Ops of squeeze-excite at `ratio` of `channels` (none when the ratio is 0)."""
    if not ratio:
        return []
    hidden, numel = make_divisible(channels, ratio), channels * hw[0] * hw[1]
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

    def configure(self, spec: IBNSpec) -> None:
        mid = spec.cin * spec.expansion
        if isinstance(self.expand, ConvNormAct):
            self.expand.resize(spec.cin, mid, act=spec.act)
        elif spec.expansion != 1:
            raise ValueError(f"expansion {spec.expansion} asked of an inverted bottleneck built without expansion")
        self.depthwise.resize(mid, mid, spec.kernel, spec.act)
        _configure_se(self.se, mid, spec.se_ratio, spec.act)
        self.project.resize(mid, spec.cout)


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

    def configure(self, spec: FusedIBNSpec) -> None:
        mid = spec.cin * spec.expansion
        self.expand.resize(spec.cin, mid, spec.kernel, spec.act)
        _configure_se(self.se, mid, spec.se_ratio, spec.act)
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


@dataclass(frozen=True)
class LayerOp:
    """A parsed block string such as `ibn_k5_e8` or `tucker_k3_i0.25_o0.75`."""

    kind: str
    kernel: int
    expansion: int = 1
    in_ratio: float = 0.0
    out_ratio: float = 0.0

    @classmethod
    def parse(cls, text: str) -> LayerOp:
        kind, *fields = text.split("_")
        values = {f[0]: f[1:] for f in fields}
        if kind == "tucker":
            return cls(kind, int(values["k"]), in_ratio=float(values["i"]), out_ratio=float(values["o"]))
        return cls(kind, int(values["k"]), expansion=int(values["e"]))

    def spec(self, cin: int, cout: int, stride: int, residual: bool, act: str, se_ratio: float, hw: HW,
             choices: Sequence[str], stage: int) -> MobileLayerSpec:
        """This layer at the given sizes, in a slot offering the block strings `choices`."""
        common = dict(cin=cin, cout=cout, kernel=self.kernel, stride=stride, residual=residual, act=act,
                      se_ratio=se_ratio, hw=hw, choices=tuple(choices), stage=stage)
        if self.kind == "tucker":
            return TuckerSpec(**common, in_ratio=self.in_ratio, out_ratio=self.out_ratio)  # type: ignore[arg-type]
        return LAYER_SPECS[self.kind](**common, expansion=self.expansion)  # type: ignore[arg-type]


@dataclass(frozen=True)
class MobileLayerSpec(BuildableSpec):
    """One layer of a staged mobile backbone; `choices` are the block strings its supernet slot offers,
    `stage` the index of the stage it belongs to. `se_ratio` is the network's squeeze-excite ratio."""

    cin: int
    cout: int
    kernel: int
    stride: int
    residual: bool
    act: str
    se_ratio: float
    hw: HW
    choices: tuple[str, ...]
    stage: int

    #: The key of this layer's kind in its slot's `ElasticChoice`.
    option: ClassVar[str]

    @property
    def out_hw(self) -> HW:
        return conv_out(self.hw, self.kernel, self.stride)

    def _with_residual(self, result: list[OpSpec]) -> list[OpSpec]:
        out = self.out_hw
        return result + ([ops.add(self.cout * out[0] * out[1])] if self.residual else [])

    def build(self) -> ElasticChoice:
        """The slot: every kind at these (largest) sizes, kept where `choices` offers it.

        All three kinds are built, in this order, even when a slot offers fewer, so that a seeded
        initialisation gives the same weights as it always has (saved supernets stay reproducible).
        """
        vocab = [LayerOp.parse(text) for text in self.choices]
        kernels = sorted({op.kernel for op in vocab})
        expansions = sorted({op.expansion for op in vocab if op.kind != "tucker"}) or [1]
        ratios = sorted({r for op in vocab if op.kind == "tucker" for r in (op.in_ratio, op.out_ratio)}) or [0.25, 0.75]
        se = self.se_ratio > 0
        c = (self.cin, self.cout, kernels, self.stride)
        built = {
            "tucker": TuckerBlock(*c, ratios, self.residual, self.act),
            "ibn": InvertedBottleneck(*c, expansions, self.residual, se, self.act),
            "fused": FusedInvertedBottleneck(*c, expansions, self.residual, se, self.act),
        }
        return ElasticChoice({kind: built[kind] for kind in sorted({op.kind for op in vocab})})


@dataclass(frozen=True)
class IBNSpec(MobileLayerSpec):
    expansion: int
    option: ClassVar[str] = "ibn"

    def ops(self) -> list[OpSpec]:
        mid, result = self.cin * self.expansion, []
        if self.expansion > 1:
            result += conv_ops(self.cin, mid, 1, 1, self.hw, self.act)[0]
        dw, out = conv_ops(mid, mid, self.kernel, self.stride, self.hw, self.act, groups=mid)
        result += dw + se_ops(mid, self.se_ratio, out, self.act) + conv_ops(mid, self.cout, 1, 1, out, "identity")[0]
        return self._with_residual(result)


@dataclass(frozen=True)
class FusedIBNSpec(MobileLayerSpec):
    expansion: int
    option: ClassVar[str] = "fused"

    def ops(self) -> list[OpSpec]:
        mid = self.cin * self.expansion
        expand, out = conv_ops(self.cin, mid, self.kernel, self.stride, self.hw, self.act)
        return self._with_residual(expand + se_ops(mid, self.se_ratio, out, self.act)
                                   + conv_ops(mid, self.cout, 1, 1, out, "identity")[0])


@dataclass(frozen=True)
class TuckerSpec(MobileLayerSpec):
    in_ratio: float
    out_ratio: float
    option: ClassVar[str] = "tucker"

    @property
    def ranks(self) -> tuple[int, int]:
        return make_divisible(self.cin, self.in_ratio), make_divisible(self.cout, self.out_ratio)

    def ops(self) -> list[OpSpec]:
        in_rank, out_rank = self.ranks
        compress = conv_ops(self.cin, in_rank, 1, 1, self.hw, self.act)[0]
        conv, out = conv_ops(in_rank, out_rank, self.kernel, self.stride, self.hw, self.act)
        return self._with_residual(compress + conv + conv_ops(out_rank, self.cout, 1, 1, out, "identity")[0])


LAYER_SPECS: dict[str, type[MobileLayerSpec]] = {"ibn": IBNSpec, "fused": FusedIBNSpec, "tucker": TuckerSpec}
