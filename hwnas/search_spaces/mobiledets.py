"""Space `mobiledets`: MobileDets' IBN + fused IBN + Tucker backbones (Xiong, Liu et al., CVPR 2021).

The template is the one all four published backbones share (tensorflow/models, research/object_detection/
models/ssd_mobiledet_feature_extractor.py): a strided 3×3 stem, a one-layer stage (IBN without expansion
or Tucker), five stages of up to four layers (strides 2, 2, 2, 1, 2; the first layer of each stage changes
width and has no residual, the others are residual) and a one-layer stage. The output of the stride-16
stage (`s5`, C4) and of the last stage (`s7`, C5) feed the SSDLite head.

Per layer the op is a string naming the block and its choices, cheapest first:
`tucker_k{3,5}_i{0.25,0.75}_o{0.25,0.75}` (input/output compression ratios), `ibn_k{3,5}_e{4,8}`,
`fused_k{3,5}_e{4,8}` (the first stage has `ibn_k{3,5}_e1`, the IBN without expansion, instead of
`ibn`/`fused`). A stage's depth drops its last layers (a skipped layer). Stage widths are the values the
published backbones use; activation (ReLU6 or hard-swish) and squeeze-excite (off, or 0.25 of the
expanded width, in IBN and fused layers) are global, as in MobileDet-CPU versus the accelerator models.

Presets: `ssdlite-coco` (320×320, the published SSDLite detectors with 90 COCO classes plus background,
output (batch, anchors, 4 + 91)), `tiny` (32×32 classification, for tests and the quick start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._conv_nets import ClassifierHead, SSDLiteHead, StagedNet
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace
from hwnas.search_spaces._supernet import Supernet
from hwnas.search_spaces.elastic._base import ElasticLayers
from hwnas.search_spaces.elastic.conv import ElasticChoice
from hwnas.search_spaces.elastic.conv_blocks import (
    HW, FusedInvertedBottleneck, InvertedBottleneck, TuckerBlock, conv_bn_act, conv_ops,
)

KERNELS, EXPANSIONS, RATIOS = (3, 5), (4, 8), (0.25, 0.75)
TUCKER_OPS = [f"tucker_k{k}_i{i}_o{o}" for i in RATIOS for o in RATIOS for k in KERNELS]
IBN_OPS = [f"ibn_k{k}_e{e}" for e in EXPANSIONS for k in KERNELS]
FUSED_OPS = [f"fused_k{k}_e{e}" for e in EXPANSIONS for k in KERNELS]
FIRST_STAGE_OPS = TUCKER_OPS + [f"ibn_k{k}_e1" for k in KERNELS]
LAYER_OPS = TUCKER_OPS + IBN_OPS + FUSED_OPS
# (stage, stride of its first layer, most layers); s5 ends at C4 (stride 16), s7 at C5 (stride 32).
STAGES = (("s1", 1, 1), ("s2", 2, 4), ("s3", 2, 4), ("s4", 2, 4), ("s5", 1, 4), ("s6", 2, 4), ("s7", 1, 1))
C4_STAGE, C5_STAGE = 4, 6
# TF OD API SSDLite: extra feature maps 512/256/256/128 (layer_depth), anchors 3 on the lowest map, then
# 5 aspect ratios + 1 interpolated scale (ssd_anchor_generator with reduce_boxes_in_lowest_layer).
SSD_EXTRA_DEPTHS, SSD_ANCHORS = (512, 256, 256, 128), (3, 6, 6, 6, 6, 6)

PRESETS: dict[str, dict[str, Any]] = {
    "ssdlite-coco": dict(
        task="detection", input_shape=(3, 320, 320), num_classes=90, activation=["relu6", "hswish"], se_ratio=[0.0, 0.25],
        widths=dict(stem=[16, 32], s1=[8, 16, 24], s2=[16, 32], s3=[32, 40, 64], s4=[72, 120, 128], s5=[72, 96, 128, 144],
                    s6=[104, 120, 128, 160], s7=[144, 240, 384]),
        depths=[1, 2, 3, 4],
    ),
    "tiny": dict(
        task="classification", input_shape=(3, 32, 32), num_classes=10, activation=["relu6", "hswish"], se_ratio=[0.0, 0.25],
        widths=dict(stem=[8, 16], s1=[8, 16], s2=[16], s3=[16, 24], s4=[24, 32], s5=[32, 40], s6=[40, 48], s7=[64]),
        depths=[1, 2],
    ),
}


@dataclass(frozen=True)
class LayerOp:
    """A parsed layer op string such as `ibn_k5_e8` or `tucker_k3_i0.25_o0.75`."""

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


def _stage_ops(stage: str) -> list[str]:
    return FIRST_STAGE_OPS if stage == "s1" else LAYER_OPS


def _layer_specs(arch: Arch) -> list[list[tuple[LayerOp, int, int, int, bool]]]:
    """Per stage, per active layer: (op, cin, cout, stride, residual)."""
    cin, result = int(arch["stem_width"]), []
    for stage, stride, _ in STAGES:
        cout, layers = int(arch[f"{stage}_width"]), []
        for j, text in enumerate(arch[f"{stage}_ops"]):  # type: ignore[arg-type]
            layers.append((LayerOp.parse(text), cin if j == 0 else cout, cout, stride if j == 0 else 1, j > 0))
        result.append(layers)
        cin = cout
    return result


def _named(act: str, se: float, stem: int, stages: dict[str, tuple[int, list[str]]]) -> dict[str, Any]:
    arch: dict[str, Any] = {"activation": act, "se_ratio": se, "stem_width": stem}
    for stage, _, most in STAGES:
        width, layer_ops = stages[stage]
        arch.update({f"{stage}_width": width, f"{stage}_ops": layer_ops})
        if most > 1:
            arch[f"{stage}_depth"] = len(layer_ops)
    return arch


# The four published backbones, layer by layer from ssd_mobiledet_feature_extractor.py (depth multiplier 1).
_T = "tucker_k3_i{}_o{}".format
NAMED_ARCHS = {
    "mobiledet-cpu": _named("hswish", 0.25, 16, dict(
        s1=(8, ["ibn_k3_e1"]), s2=(16, ["ibn_k3_e4"]), s3=(32, ["ibn_k3_e8"] + ["ibn_k3_e4"] * 3),
        s4=(72, ["ibn_k5_e8", "ibn_k3_e8", "ibn_k5_e4", "ibn_k3_e4"]), s5=(72, ["ibn_k3_e8"] * 4),
        s6=(104, ["ibn_k5_e8", "ibn_k5_e4", "ibn_k5_e4", "ibn_k3_e4"]), s7=(144, ["ibn_k3_e8"]))),
    "mobiledet-dsp": _named("relu6", 0.0, 32, dict(
        s1=(24, ["ibn_k3_e1"]), s2=(32, ["fused_k3_e4", "fused_k3_e4", "ibn_k3_e4", _T(0.25, 0.75)]),
        s3=(64, ["fused_k3_e8", "ibn_k3_e4", "fused_k3_e4", "fused_k3_e4"]),
        s4=(120, ["fused_k3_e8", "ibn_k3_e4", "ibn_k3_e8", "ibn_k3_e8"]), s5=(144, ["fused_k3_e8"] + ["ibn_k3_e8"] * 3),
        s6=(160, ["ibn_k3_e4", "ibn_k3_e4", "fused_k3_e4", _T(0.75, 0.75)]), s7=(240, ["ibn_k3_e8"]))),
    "mobiledet-edgetpu": _named("relu6", 0.0, 32, dict(
        s1=(16, [_T(0.25, 0.75)]), s2=(16, ["fused_k3_e8", "fused_k3_e4", "fused_k3_e8", "fused_k3_e4"]),
        s3=(40, ["fused_k5_e8"] + ["fused_k3_e4"] * 3), s4=(72, ["ibn_k3_e8", "ibn_k3_e8", "fused_k3_e4", "fused_k3_e4"]),
        s5=(96, ["ibn_k5_e8", "ibn_k5_e8", "ibn_k3_e8", "ibn_k3_e8"]),
        s6=(120, ["ibn_k5_e8", "ibn_k3_e8", "ibn_k5_e4", "ibn_k3_e8"]), s7=(384, ["ibn_k5_e8"]))),
    "mobiledet-gpu": _named("relu6", 0.0, 32, dict(
        s1=(16, [_T(0.25, 0.25)]), s2=(32, ["fused_k3_e8"] + [_T(0.25, 0.25)] * 3),
        s3=(64, ["fused_k3_e8"] * 3 + ["fused_k3_e4"]), s4=(128, ["fused_k3_e8"] + ["fused_k3_e4"] * 3),
        s5=(128, ["fused_k3_e8"] * 4), s6=(128, ["fused_k3_e4"] * 4), s7=(384, ["ibn_k3_e8"]))),
}


@register_space("mobiledets")
class MobileDetsSpace(SearchSpace):
    presets = PRESETS
    default_preset = "ssdlite-coco"

    def __init__(self, preset: str = "ssdlite-coco", num_classes: int | None = None) -> None:
        self.config = self.preset_config(preset, num_classes)
        c = self.config
        declaration: list = [Choice("activation", c["activation"]), Choice("se_ratio", c["se_ratio"]),
                             Choice("stem_width", c["widths"]["stem"])]
        for stage, _, most in STAGES:
            declaration.append(Choice(f"{stage}_width", c["widths"][stage]))
            if most > 1:
                declaration.append(Depth(f"{stage}_depth", [d for d in c["depths"] if d <= most]))
            declaration.append(PerLayer(f"{stage}_ops", _stage_ops(stage), depth=f"{stage}_depth" if most > 1 else most))
        super().__init__(preset, declaration, named_archs=NAMED_ARCHS if preset == "ssdlite-coco" else None)

    @property
    def is_detector(self) -> bool:
        return self.config["task"] == "detection"

    def ops(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[ops.OpSpec]:
        arch = self.validate(arch)
        shape = tuple(input_shape or self.default_input_shape)
        act, se = str(arch["activation"]), float(arch["se_ratio"])  # type: ignore[arg-type]
        result, hw = conv_ops(shape[0], int(arch["stem_width"]), 3, 2, (shape[1], shape[2]), act)
        taps: list[tuple[int, HW]] = []
        for layers in _layer_specs(arch):
            for op, cin, cout, stride, residual in layers:
                if op.kind == "tucker":
                    layer_ops, hw = TuckerBlock.ops(cin, cout, op.kernel, op.in_ratio, op.out_ratio, stride, hw, residual, act)
                else:
                    block = InvertedBottleneck if op.kind == "ibn" else FusedInvertedBottleneck
                    layer_ops, hw = block.ops(cin, cout, op.kernel, op.expansion, stride, hw, residual, se, act)
                result += layer_ops
            taps.append((layers[-1][2], hw))
        if self.is_detector:
            (c4, hw4), (c5, hw5) = taps[C4_STAGE], taps[C5_STAGE]
            return result + SSDLiteHead.ops(c4, hw4, c5, hw5, SSD_EXTRA_DEPTHS, SSD_ANCHORS, self.config["num_classes"] + 1)
        c5, hw5 = taps[C5_STAGE]
        return result + ClassifierHead.ops(c5, hw5, self.config["num_classes"], layer_norm=False)

    def build_supernet(self) -> Supernet:
        c = self.config
        widths, acts = c["widths"], c["activation"]
        se = any(c["se_ratio"])
        stages, cin_max = [], max(widths["stem"])
        for stage, stride, most in STAGES:
            vocab = [LayerOp.parse(text) for text in _stage_ops(stage)]
            kinds = sorted({op.kind for op in vocab})
            expansions = sorted({op.expansion for op in vocab if op.kind != "tucker"})
            cout_max, layers = max(widths[stage]), []
            for j in range(min(most, max(c["depths"])) if most > 1 else most):
                cin, s, residual = (cin_max, stride, False) if j == 0 else (cout_max, 1, True)
                options = {
                    "tucker": TuckerBlock(cin, cout_max, KERNELS, s, RATIOS, residual, acts[0]),
                    "ibn": InvertedBottleneck(cin, cout_max, KERNELS, s, expansions, residual, se, acts[0]),
                    "fused": FusedInvertedBottleneck(cin, cout_max, KERNELS, s, expansions, residual, se, acts[0]),
                }
                layers.append(ElasticChoice({kind: options[kind] for kind in kinds}))
            stages.append(ElasticLayers(layers))
            cin_max = cout_max
        if self.is_detector:
            head: torch.nn.Module = SSDLiteHead(max(widths["s5"]), max(widths["s7"]), SSD_EXTRA_DEPTHS, SSD_ANCHORS,
                                                c["num_classes"] + 1)
        else:
            head = ClassifierHead(max(widths["s7"]), c["num_classes"])
        stem = conv_bn_act(c["input_shape"][0], max(widths["stem"]), 3, 2, acts[0])
        taps = (C4_STAGE, C5_STAGE) if self.is_detector else (C5_STAGE,)
        return _MobileDetsSupernet(self, StagedNet(stem, stages, taps, head))


class _MobileDetsSupernet(Supernet):
    def _configure(self, arch: Arch) -> None:
        net: StagedNet = self.net  # type: ignore[assignment]
        act, se = str(arch["activation"]), float(arch["se_ratio"])  # type: ignore[arg-type]
        net.stem.configure(net.stem.conv.max_in, int(arch["stem_width"]), act=act)  # type: ignore[union-attr,operator]
        specs = _layer_specs(arch)
        for stage, layers in zip(net.stages, specs):
            for layer, (op, cin, cout, _, _) in zip(stage.configure(len(layers)), layers):  # type: ignore[operator]
                block = layer.configure(op.kind)
                if op.kind == "tucker":
                    block.configure(cin, cout, op.kernel, op.in_ratio, op.out_ratio, act)
                else:
                    block.configure(cin, cout, op.kernel, op.expansion, se, act)
        c5 = specs[C5_STAGE][-1][2]
        if isinstance(net.head, SSDLiteHead):
            net.head.configure(specs[C4_STAGE][-1][2], c5)
        else:
            net.head.configure(c5)  # type: ignore[operator]


def detector_anchors(space: MobileDetsSpace, input_shape: Sequence[int] | None = None) -> int:
    """Number of anchors (rows of the detector output) at `input_shape`: 2034 at 320×320."""
    shape = tuple(input_shape or space.default_input_shape)
    hw: HW = (shape[1], shape[2])
    for _ in range(4):  # strides 2 (stem, s2, s3, s4) down to C4
        hw = (ops.conv_out_len(hw[0], 3, 2, 1), ops.conv_out_len(hw[1], 3, 2, 1))
    hw5 = (ops.conv_out_len(hw[0], 3, 2, 1), ops.conv_out_len(hw[1], 3, 2, 1))
    return SSDLiteHead.num_anchors(hw, hw5, len(SSD_EXTRA_DEPTHS), SSD_ANCHORS)
