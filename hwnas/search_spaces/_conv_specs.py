"""Block specs of the convolutional spaces: a conv stem, mobile layers (IBN, fused IBN, Tucker), heads.

Specs describe one block at its active sizes and its ops without torch, so pricing a subnet never loads
it; `build()` imports the supernet module it makes (`elastic.conv_blocks`, `_conv_nets`) only when called.

Layers are named by block strings, decoded once (`LayerOp.parse`): `ibn_k5_e8`, `fused_k3_e4`,
`tucker_k3_i0.25_o0.75` (input/output compression ratios).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._anchors import Anchor, boxes_per_cell, ssd_anchors
from hwnas.search_spaces._block import HW, BuildableSpec
from hwnas.search_spaces._conv_math import SE_ROUNDING, conv_out, make_divisible, ofa_divisible, se_hidden
from hwnas.search_spaces._ops import OpSpec

if TYPE_CHECKING:
    from hwnas.search_spaces._conv_nets import ClassifierHead, FeatureMixHead, SSDLiteHead
    from hwnas.search_spaces.elastic.conv import ElasticChoice
    from hwnas.search_spaces.elastic.conv_blocks import ConvNormAct

__all__ = [
    "HW", "LAYER_SPECS", "ClassifierHeadSpec", "ConvSpec", "FeatureMixHeadSpec", "FusedIBNSpec", "IBNSpec", "LayerOp", "MobileLayerSpec",
    "FBNET_BLOCKS", "SE_ROUNDING", "FBNetLayerSpec", "SSDLiteHeadSpec", "TuckerSpec", "conv_ops", "conv_out", "make_divisible", "ofa_divisible", "se_hidden",
    "se_ops",
]


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
        from hwnas.search_spaces.elastic.conv_blocks import conv_bn_act  # the module needs torch; describing a block does not

        return conv_bn_act(self.cin, self.cout, self.kernel, self.stride, self.act)


def se_ops(channels: int, ratio: float, hw: HW, act: str, rounding: str = "mobiledets") -> list[OpSpec]:
    """Ops of squeeze-excite at `ratio` of `channels` (none when the ratio is 0)."""
    if not ratio:
        return []
    hidden, numel = se_hidden(channels, ratio, rounding), channels * hw[0] * hw[1]
    return [ops.pool("mean", numel, channels), ops.conv2d(channels, hidden, 1, 1, (1, 1)), ops.act(act, hidden),
            ops.conv2d(hidden, channels, 1, 1, (1, 1)), ops.act("sigmoid", channels), ops.mul(numel, broadcast=True)]


@dataclass(frozen=True)
class LayerOp:
    """A parsed block string such as `ibn_k5_e8` or `tucker_k3_i0.25_o0.75`."""

    kind: str
    kernel: int
    expansion: int = 1
    in_ratio: float = 0.0
    out_ratio: float = 0.0

    @classmethod
    @functools.lru_cache(maxsize=4096)  # a walk meets the same few block strings in every arch
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
    se_rounding: str = field(default="mobiledets", kw_only=True)

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

        A slot offering two kinds still builds all three, in this order, so that a seeded MobileDets
        initialisation gives the weights it always gave (saved supernets stay reproducible); a slot of
        one kind (OFA's MobileNetV3) builds only that kind.
        """
        from hwnas.search_spaces.elastic.conv import ElasticChoice  # the module needs torch; describing a block does not
        from hwnas.search_spaces.elastic.conv_blocks import FusedInvertedBottleneck, InvertedBottleneck, TuckerBlock

        vocab = [LayerOp.parse(text) for text in self.choices]
        kernels = sorted({op.kernel for op in vocab})
        expansions = sorted({op.expansion for op in vocab if op.kind != "tucker"}) or [1]
        ratios = sorted({r for op in vocab if op.kind == "tucker" for r in (op.in_ratio, op.out_ratio)}) or [0.25, 0.75]
        se = self.se_ratio > 0
        c = (self.cin, self.cout, kernels, self.stride)
        makers = {
            "tucker": lambda: TuckerBlock(*c, ratios, self.residual, self.act),
            "ibn": lambda: InvertedBottleneck(*c, expansions, self.residual, se, self.act, se_rounding=self.se_rounding),
            "fused": lambda: FusedInvertedBottleneck(*c, expansions, self.residual, se, self.act, se_rounding=self.se_rounding),
        }
        kinds = sorted({op.kind for op in vocab})
        built = {kind: make() for kind, make in makers.items() if len(kinds) > 1 or kind in kinds}
        return ElasticChoice({kind: built[kind] for kind in kinds})


@dataclass(frozen=True)
class IBNSpec(MobileLayerSpec):
    expansion: int
    option: ClassVar[str] = "ibn"

    def ops(self) -> list[OpSpec]:
        mid, result = self.cin * self.expansion, []
        if self.expansion > 1:
            result += conv_ops(self.cin, mid, 1, 1, self.hw, self.act)[0]
        dw, out = conv_ops(mid, mid, self.kernel, self.stride, self.hw, self.act, groups=mid)
        result += dw + se_ops(mid, self.se_ratio, out, self.act, self.se_rounding) + conv_ops(mid, self.cout, 1, 1, out, "identity")[0]
        return self._with_residual(result)


@dataclass(frozen=True)
class FusedIBNSpec(MobileLayerSpec):
    expansion: int
    option: ClassVar[str] = "fused"

    def ops(self) -> list[OpSpec]:
        mid = self.cin * self.expansion
        expand, out = conv_ops(self.cin, mid, self.kernel, self.stride, self.hw, self.act)
        return self._with_residual(expand + se_ops(mid, self.se_ratio, out, self.act, self.se_rounding)
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


@dataclass(frozen=True)
class ClassifierHeadSpec(BuildableSpec):
    """The classifier over stage `taps[-1]`'s output (`channels` × `hw`); `layer_norm_eps` None: no norm."""

    channels: int
    hw: HW
    num_classes: int
    layer_norm_eps: float | None
    taps: tuple[int, ...]

    def ops(self) -> list[OpSpec]:
        n = self.hw[0] * self.hw[1]
        return ([ops.layernorm(n, self.channels)] if self.layer_norm_eps is not None else []) + [
            ops.pool("mean", n * self.channels, self.channels), ops.linear(1, self.channels, self.num_classes)]

    def build(self) -> ClassifierHead:
        from hwnas.search_spaces._conv_nets import ClassifierHead  # the module needs torch; describing a block does not

        return ClassifierHead(self.channels, self.num_classes, self.layer_norm_eps)


@dataclass(frozen=True)
class SSDLiteHeadSpec(BuildableSpec):
    """SSDLite over the C4 (`c4` × `hw4`) and C5 (`c5` × `hw5`) maps of stages `taps`."""

    c4: int
    hw4: HW
    c5: int
    hw5: HW
    extra_depths: tuple[int, ...]
    anchors: tuple[int, ...]
    class_slots: int
    taps: tuple[int, ...]
    box_code: int = 4

    def _extra_maps(self) -> list[HW]:
        sizes, hw = [], self.hw5
        for _ in self.extra_depths:
            hw = conv_out(hw, 3, 2)
            sizes.append(hw)
        return sizes

    @property
    def map_sizes(self) -> list[HW]:
        """(height, width) of each feature map the predictors run on, C4 first."""
        return [self.hw4, self.hw5, *self._extra_maps()]

    @property
    def num_anchors(self) -> int:
        """Rows of the detector's output: 2034 at 320×320 with the TF OD API's anchors."""
        return sum(h * w * a for (h, w), a in zip(self.map_sizes, self.anchors))

    def anchor_boxes(self) -> list[Anchor]:
        """(cy, cx, h, w) of every output row, in image fractions (`hwnas.search_spaces._anchors`)."""
        if tuple(self.anchors) != boxes_per_cell(len(self.map_sizes)):
            raise ValueError(f"anchors per cell {self.anchors} are not the SSD layout {boxes_per_cell(len(self.map_sizes))}")
        return ssd_anchors(self.map_sizes)

    def ops(self) -> list[OpSpec]:
        maps, result = [(self.c4, self.hw4), (self.c5, self.hw5)], []
        cin, hw = self.c5, self.hw5
        for depth in self.extra_depths:
            first, _ = conv_ops(cin, depth // 2, 1, 1, hw, "relu6")
            dw, hw = conv_ops(depth // 2, depth // 2, 3, 2, hw, "relu6", groups=depth // 2)
            result += first + dw + conv_ops(depth // 2, depth, 1, 1, hw, "relu6")[0]
            maps.append((depth, hw))
            cin = depth
        for (channels, hw), a in zip(maps, self.anchors):
            for outputs in (a * self.box_code, a * self.class_slots):
                result += conv_ops(channels, channels, 3, 1, hw, "relu6", groups=channels)[0]
                result.append(ops.conv2d(channels, outputs, 1, 1, hw, bias=True))
        return result

    def build(self) -> SSDLiteHead:
        from hwnas.search_spaces._conv_nets import SSDLiteHead  # the module needs torch; describing a block does not

        return SSDLiteHead(self.c4, self.c5, self.extra_depths, self.anchors, self.class_slots, self.box_code)


@dataclass(frozen=True)
class FeatureMixHeadSpec(BuildableSpec):
    """MobileNetV3's head over stage `taps[-1]`'s output (`cin` × `hw`): 1×1 conv to `expand` (BatchNorm,
    activation) → global mean → 1×1 conv to `mix` (no bias, no norm; activation; `mix` 0: none, as FBNet's)
    → linear classifier."""

    cin: int
    hw: HW
    expand: int
    mix: int
    num_classes: int
    act: str
    taps: tuple[int, ...]

    def ops(self) -> list[OpSpec]:
        n, width = self.hw[0] * self.hw[1], self.mix or self.expand
        mix = [ops.conv2d(self.expand, self.mix, 1, 1, (1, 1), bias=False), ops.act(self.act, self.mix)] if self.mix else []
        return conv_ops(self.cin, self.expand, 1, 1, self.hw, self.act)[0] + [
            ops.pool("mean", n * self.expand, self.expand), *mix, ops.linear(1, width, self.num_classes)]

    def build(self) -> FeatureMixHead:
        from hwnas.search_spaces._conv_nets import FeatureMixHead  # the module needs torch; describing a block does not

        return FeatureMixHead(self.cin, self.expand, self.mix, self.num_classes, self.act)


#: FBNet's block choices (HW-NAS-Bench's primitives: kernel, expansion, groups of the 1×1 convs; `skip`), cheapest first.
FBNET_BLOCKS = ("skip", "k3_e1_g2", "k5_e1_g2", "k3_e1", "k5_e1", "k3_e3", "k5_e3", "k3_e6", "k5_e6")


@dataclass(frozen=True)
class FBNetLayerSpec(BuildableSpec):
    """One FBNet layer: `block` is one of `FBNET_BLOCKS`. A block is 1×1 conv (`groups`; BatchNorm, ReLU) →
    channel shuffle when grouped → k×k depthwise (stride; BatchNorm, ReLU) → 1×1 conv (`groups`; BatchNorm),
    plus the input when the shapes match; `skip` is the identity, or 1×1 conv (BatchNorm, ReLU) where the
    stride or the width changes. The supernet slot offers every block; `stage` is the stage's index."""

    cin: int
    cout: int
    stride: int
    block: str
    hw: HW
    stage: int
    eps: float = 1e-5
    #: What `InvertedBottleneck.configure` reads of a spec.
    act: ClassVar[str] = "relu"
    se_ratio: ClassVar[float] = 0.0
    se_rounding: ClassVar[str] = "mobiledets"

    @property
    def kernel(self) -> int:
        return 3 if self.block == "skip" else int(self.block.split("_")[0][1:])

    @property
    def expansion(self) -> int:
        return 1 if self.block == "skip" else int(self.block.split("_")[1][1:])

    @property
    def groups(self) -> int:
        return 2 if self.block.endswith("_g2") else 1

    @property
    def identity(self) -> bool:
        return self.stride == 1 and self.cin == self.cout

    @property
    def option(self) -> str:
        """The slot's module that runs: `ibn` (dense 1×1 convs), `grouped` or `skip`."""
        return "skip" if self.block == "skip" else "grouped" if self.groups > 1 else "ibn"

    @property
    def out_hw(self) -> HW:
        return conv_out(self.hw, 1 if self.block == "skip" else self.kernel, self.stride)

    def ops(self) -> list[OpSpec]:
        if self.block == "skip":
            return [] if self.identity else conv_ops(self.cin, self.cout, 1, self.stride, self.hw, "relu")[0]
        mid, g = self.cin * self.expansion, self.groups
        result = conv_ops(self.cin, mid, 1, 1, self.hw, "relu", groups=g)[0]
        if g > 1:
            result.append(ops.shuffle(mid * self.hw[0] * self.hw[1], g))
        dw, out = conv_ops(mid, mid, self.kernel, self.stride, self.hw, "relu", groups=mid)
        result += dw + conv_ops(mid, self.cout, 1, 1, out, "identity", groups=g)[0]
        return result + ([ops.add(self.cout * out[0] * out[1])] if self.identity else [])

    def build(self) -> ElasticChoice:
        from hwnas.search_spaces.elastic.conv_blocks import fbnet_slot  # the module needs torch; describing a block does not

        return fbnet_slot(self)
