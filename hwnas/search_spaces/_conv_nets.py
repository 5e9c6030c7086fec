"""Convolutional networks assembled from block specs: a staged backbone with a classifier or an SSDLite head.

A conv space's block list is `[stem, layer, ..., layer, head]`; each layer spec names its `stage` and the
head spec the stages it reads (`taps`). `StagedNet.from_blocks` builds the supernet from the largest
arch's list and `StagedNet.configure` walks any arch's list onto it. Forward passes only call children,
so extracted subnets reuse these classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._block import HW, BlockSpec, BuildableSpec
from hwnas.search_spaces._ops import OpSpec
from hwnas.search_spaces._supernet import Network
from hwnas.search_spaces.elastic._base import ElasticLayers
from hwnas.search_spaces.elastic.conv import ChannelsLast, ElasticChoice, ElasticConv2d
from hwnas.search_spaces.elastic.conv_blocks import ConvNormAct, conv_bn_act, conv_ops, conv_out, dw_bn_act
from hwnas.search_spaces.elastic.linear import ElasticLinear
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm


def _stages(layers: Sequence[BlockSpec], count: int | None = None) -> list[list[BlockSpec]]:
    """The layer specs of each stage, by their `stage` index (`count` stages; default: up to the last)."""
    count = 1 + max(spec.stage for spec in layers) if count is None else count  # type: ignore[attr-defined]
    return [[spec for spec in layers if spec.stage == i] for i in range(count)]  # type: ignore[attr-defined]


class StagedNet(Network):
    """stem → stages (each iterates its active layers) → head(outputs of the `taps` stages, in order)."""

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Module], taps: Sequence[int], head: nn.Module) -> None:
        super().__init__()
        self.stem, self.stages, self.head = stem, nn.ModuleList(stages), head
        self.taps = tuple(taps)

    @classmethod
    def from_blocks(cls, blocks: Sequence[BuildableSpec], order: Sequence[str] = ("stem", "stages", "head")) -> StagedNet:
        """The supernet of the largest arch's `blocks`; `order` is the order the parts are initialised in
        (kept per space so that a seeded build gives the weights it always gave)."""
        stem, *layers, head = blocks
        build = {"stem": stem.build, "head": head.build,
                 "stages": lambda: [ElasticLayers([spec.build() for spec in stage]) for stage in _stages(layers)]}  # type: ignore[attr-defined]
        parts = {name: build[name]() for name in order}
        return cls(parts["stem"], parts["stages"], head.taps, parts["head"])  # type: ignore[attr-defined]

    def configure(self, blocks: Sequence[BlockSpec]) -> None:
        stem, *layers, head = blocks
        self.stem.configure(stem)  # type: ignore[operator]
        for stage, specs in zip(self.stages, _stages(layers, len(self.stages))):
            for layer, spec in zip(stage.configure(len(specs)), specs):  # type: ignore[operator]
                block = layer.configure(spec.option) if isinstance(layer, ElasticChoice) else layer  # type: ignore[attr-defined]
                block.configure(spec)
        self.head.configure(head)  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        features = []
        for i, stage in enumerate(self.stages):
            for layer in stage:
                x = layer(x)
            if i in self.taps:
                features.append(x)
        return self.head(features)


class ClassifierHead(nn.Module):
    """(channel LayerNorm) → global mean → linear classifier, over the last tapped feature map."""

    def __init__(self, max_channels: int, num_classes: int, layer_norm_eps: float | None = None) -> None:
        super().__init__()
        self.norm = nn.Identity() if layer_norm_eps is None else ChannelsLast(ElasticLayerNorm(max_channels, layer_norm_eps))
        self.fc = ElasticLinear(max_channels, num_classes)
        self.num_classes = num_classes

    def configure(self, spec: ClassifierHeadSpec) -> None:
        if isinstance(self.norm, ChannelsLast):
            self.norm.inner.active_dim = spec.channels
        self.fc.configure(spec.channels, self.num_classes)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.norm(features[-1]).mean(dim=(2, 3)))


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
        return ClassifierHead(self.channels, self.num_classes, self.layer_norm_eps)


class SSDLiteHead(nn.Module):
    """SSDLite on two backbone features plus extra layers, with depthwise box and class predictors.

    As in the TF Object Detection API's SSD feature map generator (insert_1x1_conv, use_depthwise): each
    extra layer is 1×1 conv to depth/2 → 3×3 stride-2 depthwise → 1×1 conv to depth, each with BatchNorm
    and ReLU6; each predictor is a 3×3 depthwise (BatchNorm, ReLU6) then a 1×1 conv with bias. The output is
    one tensor (batch, anchors, 4 + class slots): box encodings then class logits of every anchor.
    """

    def __init__(self, max_c4: int, max_c5: int, extra_depths: Sequence[int], anchors: Sequence[int],
                 class_slots: int, box_code: int = 4, eps: float = 1e-3) -> None:
        super().__init__()
        if len(anchors) != 2 + len(extra_depths):
            raise ValueError(f"{len(anchors)} anchor counts for {2 + len(extra_depths)} feature maps")
        self.extra_depths, self.anchors = tuple(extra_depths), tuple(anchors)
        self.class_slots, self.box_code = class_slots, box_code
        extras, cin = [], max_c5
        for depth in extra_depths:
            extras.append(nn.Sequential(conv_bn_act(cin, depth // 2, 1, 1, "relu6", eps),
                                        dw_bn_act(depth // 2, 3, 2, "relu6", eps),
                                        conv_bn_act(depth // 2, depth, 1, 1, "relu6", eps)))
            cin = depth
        self.extras = nn.ModuleList(extras)
        widths = (max_c4, max_c5, *extra_depths)

        def predictor(channels: int, outputs: int) -> nn.Sequential:
            return nn.Sequential(dw_bn_act(channels, 3, 1, "relu6", eps), ElasticConv2d(channels, outputs, 1, bias=True))

        self.box = nn.ModuleList(predictor(c, a * box_code) for c, a in zip(widths, anchors))
        self.cls = nn.ModuleList(predictor(c, a * class_slots) for c, a in zip(widths, anchors))

    def configure(self, spec: SSDLiteHeadSpec) -> None:
        first: ConvNormAct = self.extras[0][0]  # type: ignore[assignment]
        first.resize(spec.c5, self.extra_depths[0] // 2)
        for channels, box, cls in zip((spec.c4, spec.c5), self.box, self.cls):
            for predictor in (box, cls):
                predictor[0].resize(channels, channels)
                predictor[1].configure(channels, predictor[1].max_out)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        maps = list(features[-2:])
        for extra in self.extras:
            maps.append(extra(maps[-1]))
        outputs = []
        for x, box, cls in zip(maps, self.box, self.cls):
            b = x.shape[0]
            boxes = box(x).permute(0, 2, 3, 1).reshape(b, -1, self.box_code)
            logits = cls(x).permute(0, 2, 3, 1).reshape(b, -1, self.class_slots)
            outputs.append(torch.cat([boxes, logits], dim=-1))
        return torch.cat(outputs, dim=1)


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
    def num_anchors(self) -> int:
        """Rows of the detector's output: 2034 at 320×320 with the TF OD API's anchors."""
        sizes = [self.hw4, self.hw5, *self._extra_maps()]
        return sum(h * w * a for (h, w), a in zip(sizes, self.anchors))

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
        return SSDLiteHead(self.c4, self.c5, self.extra_depths, self.anchors, self.class_slots, self.box_code)
