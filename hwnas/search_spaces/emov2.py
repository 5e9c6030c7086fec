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
from typing import TYPE_CHECKING, Any

from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BuildableSpec, SpecMemo
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._conv_specs import ClassifierHeadSpec
from hwnas.search_spaces._emo_specs import EPS, EMOv2StemSpec, I2RMBSpec
from hwnas.search_spaces._io import SpaceIO
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace

if TYPE_CHECKING:
    from hwnas.search_spaces._supernet import Supernet

STAGES = ("s1", "s2", "s3", "s4")
ATTENTION_STAGES = ("s3", "s4")
NORMS = {"s1": "bn", "s2": "bn", "s3": "ln", "s4": "ln"}
ACTS = {"s1": "silu", "s2": "silu", "s3": "gelu", "s4": "gelu"}

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


@register_space("emov2")
class EMOv2Space(SearchSpace):
    presets = PRESETS
    default_preset = "imagenet"

    def __init__(self, preset: str = "imagenet", num_classes: int | None = None) -> None:
        self.config = c = self.preset_config(preset, num_classes)
        self.io = SpaceIO("classification", tuple(c["input_shape"]), c["num_classes"])
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
        #: Each i2RMB's spec and output size by the values that shape it (`SpecMemo`): a search walks the same blocks
        #: for every arch it prices.
        self._i2rmbs = SpecMemo(self._i2rmb)
        self._ends = SpecMemo()

    def blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BuildableSpec]:
        """Stem, then per stage the downsampling block and the residual blocks, then the classifier."""
        arch, shape, i2rmbs = self.validate(arch), self._shape(input_shape), self._i2rmbs
        stem = self._ends[EMOv2StemSpec, shape[0], int(arch["s1_width"]) // 2, (shape[1], shape[2])]  # type: ignore[arg-type]
        result: list[BuildableSpec] = [stem]
        cin, hw = stem.width, stem.out_hw
        for index, stage in enumerate(STAGES):
            width, layers = int(arch[f"{stage}_width"]), int(arch[f"{stage}_blocks"])  # type: ignore[arg-type]
            attends = stage in ATTENTION_STAGES
            heads = arch[f"{stage}_heads"] if attends else (0,) * layers
            head_dim = int(arch[f"{stage}_head_dim"]) if attends else 0  # type: ignore[arg-type]
            down_exp, down_kernel = float(arch[f"{stage}_down_exp"]), arch[f"{stage}_down_kernel"]  # type: ignore[arg-type]
            block, hw = i2rmbs[cin, width, down_exp, down_kernel, 2, False, 0, 0, hw, index]
            result.append(block)
            for exp, kernel, h in zip(arch[f"{stage}_exp"], arch[f"{stage}_kernel"], heads):  # type: ignore[arg-type]
                block, hw = i2rmbs[width, width, float(exp), kernel, 1, True, h, head_dim, hw, index]
                result.append(block)
            cin = width
        return result + [self._ends[ClassifierHeadSpec, cin, hw, self.io.num_classes, EPS, (len(STAGES) - 1,)]]

    def _i2rmb(self, cin: int, cout: int, exp: float, kernel: int, stride: int, skip: bool, heads: int, head_dim: int,
               hw: tuple[int, int], index: int) -> tuple[I2RMBSpec, tuple[int, int]]:
        """The i2RMB of stage `index` (with `heads` > 0, its spanning attention) and its output size."""
        c, stage = self.config, STAGES[index]
        attention = (int(heads), head_dim) if heads else None
        block = I2RMBSpec(cin, cout, int(cin * exp), int(kernel), stride, skip, NORMS[stage], ACTS[stage], attention,
                          c["window"], hw, tuple(c["kernels"]), index)
        return block, block.out_hw

    def build_supernet(self) -> Supernet:
        from hwnas.search_spaces._conv_nets import StagedNet  # torch: only building the supernet needs it
        from hwnas.search_spaces._supernet import Supernet

        return Supernet(self, StagedNet.from_blocks(self.blocks(self.max_arch()), order=("stages", "stem", "head")))
