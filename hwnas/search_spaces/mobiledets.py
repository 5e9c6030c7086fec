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
output (batch, anchors, 4 + 91)), `tiny-detection` (the same head at 64×64 with two extra maps, for
detection on this machine: `shapes-detection`, the user's `coco` files), `tiny` (32×32 classification,
for tests and the quick start). Output slot 0 of the class logits is the background.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hwnas.search_spaces._anchors import boxes_per_cell
from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BuildableSpec, SpecMemo
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._conv_specs import ClassifierHeadSpec, ConvSpec, LayerOp, SSDLiteHeadSpec
from hwnas.search_spaces._io import SpaceIO
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace

if TYPE_CHECKING:
    from hwnas.search_spaces._supernet import Supernet

__all__ = ["LayerOp", "MobileDetsSpace", "detector_anchors"]

KERNELS, EXPANSIONS, RATIOS = (3, 5), (4, 8), (0.25, 0.75)  # cheapest first
TUCKER_OPS = [f"tucker_k{k}_i{i}_o{o}" for i in RATIOS for o in RATIOS for k in KERNELS]
IBN_OPS = [f"ibn_k{k}_e{e}" for e in EXPANSIONS for k in KERNELS]
FUSED_OPS = [f"fused_k{k}_e{e}" for e in EXPANSIONS for k in KERNELS]
FIRST_STAGE_OPS = TUCKER_OPS + [f"ibn_k{k}_e1" for k in KERNELS]
LAYER_OPS = TUCKER_OPS + IBN_OPS + FUSED_OPS
# (stage, stride of its first layer, most layers); s5 ends at C4 (stride 16), s7 at C5 (stride 32).
STAGES = (("s1", 1, 1), ("s2", 2, 4), ("s3", 2, 4), ("s4", 2, 4), ("s5", 1, 4), ("s6", 2, 4), ("s7", 1, 1))
C4_STAGE, C5_STAGE = 4, 6
#: Per stage: its first layer's stride and its arch fields (width, layer ops).
STAGE_FIELDS = tuple((stride, f"{stage}_width", f"{stage}_ops") for stage, stride, _ in STAGES)
# TF OD API SSDLite: extra feature maps 512/256/256/128 (layer_depth), anchors 3 on the lowest map, then
# 5 aspect ratios + 1 interpolated scale (ssd_anchor_generator with reduce_boxes_in_lowest_layer).
SSD_EXTRA_DEPTHS = (512, 256, 256, 128)
SSD_ANCHORS = boxes_per_cell(2 + len(SSD_EXTRA_DEPTHS))  # (3, 6, 6, 6, 6, 6)

PRESETS: dict[str, dict[str, Any]] = {
    "ssdlite-coco": dict(
        task="detection", input_shape=(3, 320, 320), num_classes=90, activation=["relu6", "hswish"], se_ratio=[0.0, 0.25],
        widths=dict(stem=[16, 32], s1=[8, 16, 24], s2=[16, 32], s3=[32, 40, 64], s4=[72, 120, 128], s5=[72, 96, 128, 144],
                    s6=[104, 120, 128, 160], s7=[144, 240, 384]),
        depths=[1, 2, 3, 4], ssd_extra_depths=list(SSD_EXTRA_DEPTHS),
    ),
    # SSDLite at CPU size: 64×64 images, the tiny widths, two extra maps (4×4 C4, 2×2 C5, 1×1, 1×1);
    # the class count comes from the task (the shapes-detection task has 4).
    "tiny-detection": dict(
        task="detection", input_shape=(3, 64, 64), num_classes=4, activation=["relu6", "hswish"], se_ratio=[0.0, 0.25],
        widths=dict(stem=[8, 16], s1=[8, 16], s2=[16, 24], s3=[16, 32], s4=[32, 48], s5=[32, 64], s6=[48, 80], s7=[96]),
        depths=[1, 2], ssd_extra_depths=[64, 32],
    ),
    "tiny": dict(
        task="classification", input_shape=(3, 32, 32), num_classes=10, activation=["relu6", "hswish"], se_ratio=[0.0, 0.25],
        widths=dict(stem=[8, 16], s1=[8, 16], s2=[16], s3=[16, 24], s4=[24, 32], s5=[32, 40], s6=[40, 48], s7=[64]),
        depths=[1, 2],
    ),
}


def _stage_ops(stage: str) -> list[str]:
    return FIRST_STAGE_OPS if stage == "s1" else LAYER_OPS


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
        self.config = c = self.preset_config(preset, num_classes)
        self.io = SpaceIO(c["task"], tuple(c["input_shape"]), c["num_classes"])
        declaration: list = [Choice("activation", c["activation"]), Choice("se_ratio", c["se_ratio"]),
                             Choice("stem_width", c["widths"]["stem"])]
        for stage, _, most in STAGES:
            declaration.append(Choice(f"{stage}_width", c["widths"][stage]))
            if most > 1:
                declaration.append(Depth(f"{stage}_depth", [d for d in c["depths"] if d <= most]))
            declaration.append(PerLayer(f"{stage}_ops", _stage_ops(stage), depth=f"{stage}_depth" if most > 1 else most))
        super().__init__(preset, declaration, named_archs=NAMED_ARCHS if preset == "ssdlite-coco" else None)
        #: Each layer's spec and output size by the values that shape it (`SpecMemo`): a search walks the same layers
        #: for every arch it prices.
        self._layers = SpecMemo(self._layer)
        self._ends = SpecMemo()

    def blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BuildableSpec]:
        arch, shape = self.validate(arch), self._shape(input_shape)
        act, se, layers, ends = str(arch["activation"]), float(arch["se_ratio"]), self._layers, self._ends  # type: ignore[arg-type]
        stem = ends[ConvSpec, shape[0], int(arch["stem_width"]), 3, 2, act, (shape[1], shape[2])]
        result: list[BuildableSpec] = [stem]
        cin, hw, taps = int(arch["stem_width"]), stem.out_hw, []  # type: ignore[attr-defined]
        for index, (stride, width_field, ops_field) in enumerate(STAGE_FIELDS):
            cout = int(arch[width_field])  # type: ignore[arg-type]
            for j, text in enumerate(arch[ops_field]):  # type: ignore[arg-type]
                layer, hw = layers[text, cin if j == 0 else cout, cout, stride if j == 0 else 1, j > 0, act, se, hw, index]
                result.append(layer)
            taps.append((cout, hw))
            cin = cout
        if self.io.is_detection:
            (c4, hw4), (c5, hw5) = taps[C4_STAGE], taps[C5_STAGE]
            extra = tuple(self.config["ssd_extra_depths"])
            return result + [ends[SSDLiteHeadSpec, c4, hw4, c5, hw5, extra, boxes_per_cell(2 + len(extra)),
                                  self.io.num_classes + 1, (C4_STAGE, C5_STAGE)]]  # type: ignore[operator]
        c5, hw5 = taps[C5_STAGE]
        return result + [ends[ClassifierHeadSpec, c5, hw5, self.io.num_classes, None, (C5_STAGE,)]]

    @staticmethod
    def _layer(text: str, cin: int, cout: int, stride: int, skip: bool, act: str, se: float, hw: tuple[int, int],
               index: int) -> tuple[BuildableSpec, tuple[int, int]]:
        """Layer `text` (e.g. `ibn_k3_e4`) of stage `index`, and its output size."""
        layer = LayerOp.parse(text).spec(cin, cout, stride, skip, act, se, hw, _stage_ops(STAGES[index][0]), index)
        return layer, layer.out_hw

    def build_supernet(self) -> Supernet:
        from hwnas.search_spaces._conv_nets import StagedNet  # torch: only building the supernet needs it
        from hwnas.search_spaces._supernet import Supernet

        return Supernet(self, StagedNet.from_blocks(self.blocks(self.max_arch()), order=("stages", "head", "stem")))


def detector_anchors(space: MobileDetsSpace, input_shape: Sequence[int] | None = None) -> int:
    """Number of anchors (rows of the detector output) at `input_shape`: 2034 at 320×320."""
    head = space.blocks(space.min_arch(), input_shape)[-1]
    if not isinstance(head, SSDLiteHeadSpec):
        raise ValueError(f"{space.label} is not a detector")
    return head.num_anchors
