"""Space `ofa-mbv3`: Once-for-All's MobileNetV3 supernet (Cai et al., ICLR 2020), the subnets HELP measured.

As in mit-han-lab/once-for-all (`OFAMobileNetV3`, model zoo `ofa_mbv3_d234_e346_k357_w1.2`): a strided
3×3 stem (BatchNorm, hard-swish), a first inverted bottleneck without expansion (3×3, ReLU, residual),
five stages of 2–4 inverted bottlenecks (strides 2, 2, 2, 1, 2; ReLU in the first two, hard-swish after;
squeeze-excite at 1/4 of the expanded width in stages 2, 4 and 5), then a 1×1 conv to 6× the last width,
global mean, a 1×1 "feature mix" conv (no bias, no norm) and the classifier. Per layer the depthwise kernel
(3, 5, 7) and the expansion ratio (3, 4, 6) are chosen, per stage the depth (its first layers run), and
the input resolution (128–224 px in steps of 4, as OFA trains and HELP measured).

Widths are OFA's base widths [16, 16, 24, 40, 80, 112, 160, 960, 1280] × the preset's width multiplier,
rounded as OFA rounds them (to a multiple of 8, at least 8, never below 90 % of the product).

Presets: `imagenet-w1.2` (HELP's latency data), `imagenet-w1.0` (OFA's smaller supernet), `tiny`
(32×32, 10 classes, widths × 0.25, one resolution: tests and the quick start).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BuildableSpec
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._conv_specs import ConvSpec, FeatureMixHeadSpec, IBNSpec, ofa_divisible
from hwnas.search_spaces._io import SpaceIO
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace

if TYPE_CHECKING:
    from hwnas.search_spaces._supernet import Supernet

__all__ = ["OFAMobileNetV3Space", "ofa_divisible"]

BASE_WIDTHS = (16, 16, 24, 40, 80, 112, 160, 960, 1280)  # stem, first block, five stages, final expand, feature mix
STRIDES = (2, 2, 2, 1, 2)
ACTIVATIONS = ("relu", "relu", "hswish", "hswish", "hswish")
SQUEEZE_EXCITE = (False, True, False, True, True)
SE_RATIO = 0.25
KERNELS, EXPANSIONS, DEPTHS = (3, 5, 7), (3, 4, 6), (2, 3, 4)
RESOLUTIONS = tuple(range(128, 225, 4))

PRESETS: dict[str, dict[str, Any]] = {
    "imagenet-w1.2": {"width_mult": 1.2, "num_classes": 1000, "resolutions": RESOLUTIONS},
    "imagenet-w1.0": {"width_mult": 1.0, "num_classes": 1000, "resolutions": RESOLUTIONS},
    "tiny": {"width_mult": 0.25, "num_classes": 10, "resolutions": (32,)},
}


def _stage_choices(stage: int) -> tuple[str, ...]:
    return tuple(f"ibn_k{k}_e{e}" for e in EXPANSIONS for k in KERNELS)


@register_space("ofa-mbv3")
class OFAMobileNetV3Space(SearchSpace):
    presets = PRESETS
    default_preset = "imagenet-w1.2"

    def __init__(self, preset: str = "imagenet-w1.2", num_classes: int | None = None) -> None:
        self.config = c = self.preset_config(preset, num_classes)
        self.widths = tuple(ofa_divisible(w * c["width_mult"]) for w in BASE_WIDTHS)
        largest = max(c["resolutions"])
        self.io = SpaceIO("classification", (3, largest, largest), c["num_classes"])
        declaration: list = [Choice("resolution", list(c["resolutions"]))]
        for s in range(1, 6):
            declaration += [Depth(f"s{s}_depth", list(DEPTHS)), PerLayer(f"s{s}_kernel", list(KERNELS), depth=f"s{s}_depth"),
                            PerLayer(f"s{s}_expand", list(EXPANSIONS), depth=f"s{s}_depth")]
        super().__init__(preset, declaration)

    def blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BuildableSpec]:
        """The arch's blocks at its own resolution (`input_shape`, when given, overrides it)."""
        arch = self.validate(arch)
        r = int(arch["resolution"])  # type: ignore[arg-type]
        shape = tuple(input_shape) if input_shape else (3, r, r)
        stem_w, first_w, *stage_w, expand_w, mix_w = self.widths
        stem = ConvSpec(shape[0], stem_w, 3, 2, "hswish", (shape[1], shape[2]))
        first = IBNSpec(cin=stem_w, cout=first_w, kernel=3, stride=1, residual=stem_w == first_w, act="relu", se_ratio=0.0,
                        hw=stem.out_hw, choices=("ibn_k3_e1",), stage=0, expansion=1, se_rounding="ofa")
        result: list[BuildableSpec] = [stem, first]
        cin, hw = first_w, first.out_hw
        for s in range(1, 6):
            cout, choices = stage_w[s - 1], _stage_choices(s)
            for j, (k, e) in enumerate(zip(arch[f"s{s}_kernel"], arch[f"s{s}_expand"])):  # type: ignore[call-overload]
                layer = IBNSpec(cin=cin, cout=cout, kernel=int(k), stride=STRIDES[s - 1] if j == 0 else 1, residual=j > 0,
                                act=ACTIVATIONS[s - 1], se_ratio=SE_RATIO if SQUEEZE_EXCITE[s - 1] else 0.0, hw=hw,
                                choices=choices, stage=s, expansion=int(e), se_rounding="ofa")
                result.append(layer)
                cin, hw = cout, layer.out_hw
        return result + [FeatureMixHeadSpec(cin, hw, expand_w, mix_w, self.io.num_classes, "hswish", (5,))]  # type: ignore[arg-type]

    def build_supernet(self) -> Supernet:
        from hwnas.search_spaces._conv_nets import StagedNet  # torch: only building the supernet needs it
        from hwnas.search_spaces._supernet import Supernet

        return Supernet(self, StagedNet.from_blocks(self.blocks(self.max_arch())))
