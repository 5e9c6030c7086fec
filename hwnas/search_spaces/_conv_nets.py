"""Convolutional networks assembled from elastic blocks: a staged backbone with a classifier or an SSDLite head.

Like `_transformers`, their forward passes only call children, so extracted subnets reuse these classes.
Each head has a static `ops(...)` describing one sample's operators, beside the forward it describes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._ops import OpSpec
from hwnas.search_spaces.elastic.conv import ChannelsLast, ElasticConv2d
from hwnas.search_spaces.elastic.conv_blocks import HW, ConvNormAct, conv_bn_act, conv_ops, dw_bn_act
from hwnas.search_spaces.elastic.linear import ElasticLinear
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm


class StagedNet(nn.Module):
    """stem → stages (each iterates its active layers) → head(outputs of the `taps` stages, in order)."""

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Module], taps: Sequence[int], head: nn.Module) -> None:
        super().__init__()
        self.stem, self.stages, self.head = stem, nn.ModuleList(stages), head
        self.taps = tuple(taps)

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

    def configure(self, channels: int) -> None:
        if isinstance(self.norm, ChannelsLast):
            self.norm.inner.active_dim = channels
        self.fc.configure(channels, self.num_classes)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.norm(features[-1]).mean(dim=(2, 3)))

    @staticmethod
    def ops(channels: int, hw: HW, num_classes: int, layer_norm: bool) -> list[OpSpec]:
        n = hw[0] * hw[1]
        return ([ops.layernorm(n, channels)] if layer_norm else []) + [
            ops.pool("mean", n * channels, channels), ops.linear(1, channels, num_classes)]


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

    def configure(self, c4: int, c5: int) -> None:
        first: ConvNormAct = self.extras[0][0]  # type: ignore[assignment]
        first.configure(c5, self.extra_depths[0] // 2)
        for channels, box, cls in zip((c4, c5), self.box, self.cls):
            for predictor in (box, cls):
                predictor[0].configure(channels, channels)
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

    @staticmethod
    def ops(c4: int, hw4: HW, c5: int, hw5: HW, extra_depths: Sequence[int], anchors: Sequence[int],
            class_slots: int, box_code: int = 4) -> list[OpSpec]:
        maps, result = [(c4, hw4), (c5, hw5)], []
        cin, hw = c5, hw5
        for depth in extra_depths:
            first, _ = conv_ops(cin, depth // 2, 1, 1, hw, "relu6")
            dw, hw = conv_ops(depth // 2, depth // 2, 3, 2, hw, "relu6", groups=depth // 2)
            result += first + dw + conv_ops(depth // 2, depth, 1, 1, hw, "relu6")[0]
            maps.append((depth, hw))
            cin = depth
        for (channels, hw), a in zip(maps, anchors):
            for outputs in (a * box_code, a * class_slots):
                result += conv_ops(channels, channels, 3, 1, hw, "relu6", groups=channels)[0]
                result.append(ops.conv2d(channels, outputs, 1, 1, hw, bias=True))
        return result

    @staticmethod
    def num_anchors(hw4: HW, hw5: HW, extra_layers: int, anchors: Sequence[int]) -> int:
        sizes, hw = [hw4, hw5], hw5
        for _ in range(extra_layers):
            hw = (ops.conv_out_len(hw[0], 3, 2, 1), ops.conv_out_len(hw[1], 3, 2, 1))
            sizes.append(hw)
        return sum(h * w * a for (h, w), a in zip(sizes, anchors))
