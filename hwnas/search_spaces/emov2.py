"""Space `emov2`: EMOv2's four stages of i2RMB blocks (Zhang et al., "EMOv2: Pushing 5M Vision Model Frontier").

The network follows the official code (zhangzjn/EMOv2, model/lib_emo/emo2.py): a stem (3×3 stride-2 conv,
3×3 depthwise, 1×1 conv) to half the first stage's width, then four stages. Each stage opens with a
downsampling i2RMB (1×1 conv expansion, stride-2 depthwise, no skips) followed by `sN_blocks` residual
i2RMBs. Stages 1–2 use BatchNorm and SiLU, stages 3–4 LayerNorm and GELU; a final LayerNorm, global mean
and linear classifier close the network. Block widths are int(width·ratio), as in the official code.

Choices per stage: width, the downsampling block's expansion ratio and depthwise kernel, the number of
residual blocks, and per residual block its expansion ratio and depthwise kernel {3, 5}. In stages 3–4 each
residual block also picks `heads`: 0 for the 1×1 conv expansion, otherwise spanning window attention with
that many heads of `sN_head_dim` channels for queries and keys (values keep the block's inner width).
The official models use attention in every residual block of stages 3–4 and 5×5 kernels throughout.

Presets: `imagenet` (224×224, 1,000 classes, window 7; named archs `emov2-1m/2m/5m/20m`), `tiny` (32×32,
10 classes, window 2; tests and the quick start).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._conv_nets import ClassifierHead, StagedNet
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace
from hwnas.search_spaces._supernet import Supernet
from hwnas.search_spaces.elastic._base import ElasticLayers
from hwnas.search_spaces.elastic.conv import (
    ChannelsLast, ElasticActivation, ElasticBatchNorm2d, ElasticChoice, ElasticConv2d, ElasticLayerScale,
)
from hwnas.search_spaces.elastic.conv_blocks import I2RMB, ConvNormAct, SpanningWindowAttention, conv_ops, dw_bn_act
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

STAGES = ("s1", "s2", "s3", "s4")
ATTENTION_STAGES = ("s3", "s4")
NORMS = {"s1": "bn", "s2": "bn", "s3": "ln", "s4": "ln"}
ACTS = {"s1": "silu", "s2": "silu", "s3": "gelu", "s4": "gelu"}
EPS = 1e-6  # the official norms' epsilon
LAYER_SCALE_INIT = 1e-6  # the official ls_value

PRESETS: dict[str, dict[str, Any]] = {
    "imagenet": dict(
        input_shape=(3, 224, 224), num_classes=1000, window=7, kernels=[3, 5],
        widths=dict(s1=[32, 48, 64], s2=[48, 72, 96, 128], s3=[80, 120, 160, 240, 320], s4=[180, 200, 288, 360, 448]),
        blocks=dict(s1=[1, 2], s2=[1, 2, 3], s3=[4, 5, 6, 7, 8, 10, 12], s4=[1, 2, 3]),
        exp=[2.0, 2.5, 3.0, 3.5, 4.0], down_exp=[4.0, 5.0, 6.0, 7.0, 8.0],
        heads=dict(s3=[0, 4, 5, 6, 8, 10], s4=[0, 8, 9, 10, 12, 14]), head_dim=[16, 20, 24, 32],
    ),
    "tiny": dict(
        input_shape=(3, 32, 32), num_classes=10, window=2, kernels=[3, 5],
        widths=dict(s1=[16, 24], s2=[24, 32], s3=[32, 48], s4=[48, 64]),
        blocks=dict(s1=[1], s2=[1], s3=[1, 2], s4=[1, 2]),
        exp=[2.0, 3.0], down_exp=[4.0, 6.0], heads=dict(s3=[0, 2, 4], s4=[0, 2, 4]), head_dim=[8, 16],
    ),
}


class BlockShape(NamedTuple):
    """The active sizes of one i2RMB; `attention` = (heads, head_dim) or None for the conv expansion."""

    cin: int
    cout: int
    mid: int
    kernel: int
    stride: int
    skip: bool
    attention: tuple[int, int] | None


def _official(depths: list[int], widths: list[int], exps: list[float], head_dims: list[int]) -> dict[str, Any]:
    """An official EMO2 configuration as an arch: 5×5 kernels, attention in every residual block of s3–s4."""
    arch: dict[str, Any] = {}
    for stage, depth, width, exp, head_dim in zip(STAGES, depths, widths, exps, head_dims):
        blocks = depth - 1
        arch.update({f"{stage}_width": width, f"{stage}_down_exp": 2 * exp, f"{stage}_down_kernel": 5,
                     f"{stage}_blocks": blocks, f"{stage}_exp": [exp] * blocks, f"{stage}_kernel": [5] * blocks})
        if stage in ATTENTION_STAGES:
            arch.update({f"{stage}_heads": [width // head_dim] * blocks, f"{stage}_head_dim": head_dim})
    return arch


# EMO2_{1M,2M,5M,20M}_k5_hybrid in model/lib_emo/emo2.py (depths, embed_dims, exp_ratios, dim_heads).
NAMED_ARCHS = {
    "emov2-1m": _official([2, 2, 8, 3], [32, 48, 80, 180], [2.0, 2.5, 3.0, 3.5], [16, 16, 20, 20]),
    "emov2-2m": _official([3, 3, 9, 3], [32, 48, 120, 200], [2.0, 2.5, 3.0, 3.5], [16, 16, 20, 20]),
    "emov2-5m": _official([3, 3, 9, 3], [48, 72, 160, 288], [2.0, 3.0, 4.0, 4.0], [16, 24, 32, 32]),
    "emov2-20m": _official([3, 3, 13, 3], [64, 128, 320, 448], [2.0, 3.0, 4.0, 4.0], [16, 32, 32, 32]),
}


def block_shapes(arch: Arch) -> list[list[BlockShape]]:
    """Per stage, the downsampling block then the residual blocks."""
    cin, result = int(arch["s1_width"]) // 2, []
    for stage in STAGES:
        width = int(arch[f"{stage}_width"])
        blocks = [BlockShape(cin, width, int(cin * float(arch[f"{stage}_down_exp"])), int(arch[f"{stage}_down_kernel"]),
                             2, False, None)]
        heads = arch[f"{stage}_heads"] if stage in ATTENTION_STAGES else [0] * int(arch[f"{stage}_blocks"])
        for exp, kernel, h in zip(arch[f"{stage}_exp"], arch[f"{stage}_kernel"], heads):  # type: ignore[arg-type]
            attention = (int(h), int(arch[f"{stage}_head_dim"])) if h else None
            blocks.append(BlockShape(width, width, int(width * float(exp)), int(kernel), 1, True, attention))
        result.append(blocks)
        cin = width
    return result


@register_space("emov2")
class EMOv2Space(SearchSpace):
    presets = PRESETS
    default_preset = "imagenet"

    def __init__(self, preset: str = "imagenet", num_classes: int | None = None) -> None:
        self.config = self.preset_config(preset, num_classes)
        c = self.config
        declaration: list = []
        for stage in STAGES:
            declaration += [
                Choice(f"{stage}_width", c["widths"][stage]),
                Choice(f"{stage}_down_exp", c["down_exp"]),
                Choice(f"{stage}_down_kernel", c["kernels"]),
                Depth(f"{stage}_blocks", c["blocks"][stage]),
                PerLayer(f"{stage}_exp", c["exp"], depth=f"{stage}_blocks"),
                PerLayer(f"{stage}_kernel", c["kernels"], depth=f"{stage}_blocks"),
            ]
            if stage in ATTENTION_STAGES:
                declaration += [PerLayer(f"{stage}_heads", c["heads"][stage], depth=f"{stage}_blocks"),
                                Choice(f"{stage}_head_dim", c["head_dim"])]
        super().__init__(preset, declaration, named_archs=NAMED_ARCHS if preset == "imagenet" else None)

    def ops(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[ops.OpSpec]:
        arch = self.validate(arch)
        shape = tuple(input_shape or self.default_input_shape)
        stem = int(arch["s1_width"]) // 2
        result, hw = conv_ops(shape[0], stem, 3, 2, (shape[1], shape[2]), "silu", bias=True)
        result += conv_ops(stem, stem, 3, 1, hw, "silu", groups=stem)[0] + [ops.conv2d(stem, stem, 1, 1, hw, bias=False)]
        for stage, blocks in zip(STAGES, block_shapes(arch)):
            for b in blocks:
                attention = None if b.attention is None else (*b.attention, self.config["window"])
                block_ops, hw = I2RMB.ops(b.cin, b.cout, b.mid, b.kernel, b.stride, hw, NORMS[stage], ACTS[stage],
                                          b.skip, attention)
                result += block_ops
        return result + ClassifierHead.ops(int(arch["s4_width"]), hw, self.config["num_classes"], layer_norm=True)

    def build_supernet(self) -> Supernet:
        c = self.config
        stem = max(c["widths"]["s1"]) // 2
        stages, cin = [], stem
        for stage in STAGES:
            width = max(c["widths"][stage])
            blocks = [_block(stage, cin, width, int(cin * max(c["down_exp"])), c["kernels"], 2, False, None)]
            attention = (max(c["heads"][stage]), max(c["head_dim"]), c["window"]) if stage in ATTENTION_STAGES else None
            blocks += [_block(stage, width, width, int(width * max(c["exp"])), c["kernels"], 1, True, attention)
                       for _ in range(max(c["blocks"][stage]))]
            stages.append(ElasticLayers(blocks))
            cin = width
        stem_net = nn.Sequential(
            ConvNormAct(ElasticConv2d(c["input_shape"][0], stem, 3, 2, bias=True), ElasticBatchNorm2d(stem, EPS),
                        ElasticActivation("silu")),
            dw_bn_act(stem, 3, 1, "silu", EPS),
            ElasticConv2d(stem, stem, 1),
        )
        head = ClassifierHead(cin, c["num_classes"], layer_norm_eps=EPS)
        return _EMOv2Supernet(self, StagedNet(stem_net, stages, (len(STAGES) - 1,), head))


def _block(stage: str, max_in: int, max_out: int, max_mid: int, kernels: Sequence[int], stride: int, skip: bool,
           attention: tuple[int, int, int] | None) -> I2RMB:
    """A supernet i2RMB at its largest sizes; `attention` = (max heads, max head_dim, window) adds that option."""
    act = ACTS[stage]
    norm = ElasticBatchNorm2d(max_in, EPS) if NORMS[stage] == "bn" else ChannelsLast(ElasticLayerNorm(max_in, EPS))
    mixer: nn.Module = ConvNormAct(ElasticConv2d(max_in, max_mid, 1, bias=True), None, ElasticActivation(act))
    if attention is not None:
        heads, head_dim, window = attention
        mixer = ElasticChoice({"conv": mixer, "attn": SpanningWindowAttention(max_in, max_mid, heads, head_dim, window, act)})
    return I2RMB(norm, mixer, dw_bn_act(max_mid, kernels, stride, "silu", EPS), ElasticConv2d(max_mid, max_out, 1),
                 ElasticLayerScale(max_out, LAYER_SCALE_INIT), skip)


class _EMOv2Supernet(Supernet):
    def _configure(self, arch: Arch) -> None:
        net: StagedNet = self.net  # type: ignore[assignment]
        stem = int(arch["s1_width"]) // 2
        net.stem[0].configure(net.stem[0].conv.max_in, stem)  # type: ignore[index,union-attr,operator]
        net.stem[1].configure(stem, stem)  # type: ignore[index,operator]
        net.stem[2].configure(stem, stem)  # type: ignore[index,operator]
        for stage, shapes in zip(net.stages, block_shapes(arch)):
            for block, b in zip(stage.configure(len(shapes)), shapes):  # type: ignore[operator]
                block.configure(b.cin, b.cout, b.mid, b.kernel, b.attention)
        net.head.configure(int(arch["s4_width"]))  # type: ignore[operator]
