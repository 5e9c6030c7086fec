"""Convolutional networks assembled from block specs: a staged backbone with a classifier or an SSDLite head.

A conv space's block list is `[stem, layer, ..., layer, head]`; each layer spec names its `stage` and the
head spec the stages it reads (`taps`). `StagedNet.from_blocks` builds the supernet from the largest
arch's list and `StagedNet.configure` walks any arch's list onto it. Forward passes only call children,
so extracted subnets reuse these classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from hwnas.search_spaces._block import BlockSpec, BuildableSpec
from hwnas.search_spaces._supernet import Network
from hwnas.search_spaces.elastic._base import ElasticLayers
from hwnas.search_spaces.elastic.conv import ChannelsLast, ElasticActivation, ElasticChoice, ElasticConv2d
from hwnas.search_spaces.elastic.conv_blocks import ConvNormAct, conv_bn_act, dw_bn_act
from hwnas.search_spaces.elastic.linear import ElasticLinear
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

if TYPE_CHECKING:
    from hwnas.search_spaces._conv_specs import ClassifierHeadSpec, FeatureMixHeadSpec, SSDLiteHeadSpec


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


class FeatureMixHead(nn.Module):
    """MobileNetV3's head (see `FeatureMixHeadSpec`); its widths are fixed, so configuring only checks them."""

    def __init__(self, cin: int, expand: int, mix: int, num_classes: int, act: str) -> None:
        super().__init__()
        self.final_expand = conv_bn_act(cin, expand, 1, 1, act)
        self.feature_mix = ConvNormAct(ElasticConv2d(expand, mix, 1), None, ElasticActivation(act)) if mix else nn.Identity()
        self.fc = ElasticLinear(mix or expand, num_classes)

    def configure(self, spec: FeatureMixHeadSpec) -> None:
        self.final_expand.resize(spec.cin, spec.expand, act=spec.act)
        if isinstance(self.feature_mix, ConvNormAct):
            self.feature_mix.resize(spec.expand, spec.mix, act=spec.act)
        self.fc.configure(spec.mix or spec.expand, spec.num_classes)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.final_expand(features[-1]).mean(dim=(2, 3), keepdim=True)
        return self.fc(self.feature_mix(x).flatten(1))


#: The published SSDLite configs' class_prediction_bias_init (sigmoid(-4.6) ≈ 0.01), so focal loss starts stable.
CLASS_BIAS_INIT = -4.6


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
        with torch.no_grad():  # class_prediction_bias_init: every anchor starts at ~1 % object probability
            for cls in self.cls:
                cls[1].bias.fill_(CLASS_BIAS_INIT)

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
