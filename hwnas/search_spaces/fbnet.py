"""Space `fbnet`: FBNet's macro-architecture on CIFAR-100 as HW-NAS-Bench defines it (Li et al., ICLR 2021).

As in GATECH-EIC/HW-NAS-Bench (`hw_nas_bench_api/fbnet_models`), the network whose latencies HELP measured on
GPUs, Xeons and phones: a 3×3 stem (16 channels, stride 1; BatchNorm, ReLU), 22 searchable layers in stages
of [1, 4, 4, 4, 4, 4, 1] layers with [16, 24, 32, 64, 112, 184, 352] channels and first-layer strides
[1, 1, 2, 2, 1, 2, 1], a 1×1 conv to 1504 channels (BatchNorm, ReLU), global mean and a linear classifier.
Each layer is one of nine blocks (`FBNET_BLOCKS`): kernel 3 or 5, expansion 1, 3 or 6, grouped (2 groups,
with a channel shuffle) 1×1 convs at expansion 1, or `skip`; see `FBNetLayerSpec`.

Preset: `cifar100` (32×32 input, 100 classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BuildableSpec
from hwnas.search_spaces._choices import PerLayer
from hwnas.search_spaces._conv_specs import FBNET_BLOCKS, ConvSpec, FBNetLayerSpec, FeatureMixHeadSpec
from hwnas.search_spaces._io import SpaceIO
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace

if TYPE_CHECKING:
    from hwnas.search_spaces._supernet import Supernet

__all__ = ["FBNetSpace"]

STAGE_LAYERS = (1, 4, 4, 4, 4, 4, 1)
STAGE_WIDTHS = (16, 24, 32, 64, 112, 184, 352)
STAGE_STRIDES = (1, 1, 2, 2, 1, 2, 1)
STEM_WIDTH, HEAD_WIDTH = 16, 1504

PRESETS: dict[str, dict[str, Any]] = {"cifar100": {"input_shape": (3, 32, 32), "num_classes": 100}}


@register_space("fbnet")
class FBNetSpace(SearchSpace):
    presets = PRESETS
    default_preset = "cifar100"

    def __init__(self, preset: str = "cifar100", num_classes: int | None = None) -> None:
        self.config = c = self.preset_config(preset, num_classes)
        self.io = SpaceIO("classification", tuple(c["input_shape"]), c["num_classes"])
        super().__init__(preset, [PerLayer("blocks", list(FBNET_BLOCKS), depth=sum(STAGE_LAYERS))])

    def blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BuildableSpec]:
        arch, shape = self.validate(arch), self._shape(input_shape)
        stem = ConvSpec(shape[0], STEM_WIDTH, 3, 1, "relu", (shape[1], shape[2]))
        result: list[BuildableSpec] = [stem]
        names, cin, hw = iter(arch["blocks"]), STEM_WIDTH, stem.out_hw  # type: ignore[call-overload]
        for stage, (layers, cout, stride) in enumerate(zip(STAGE_LAYERS, STAGE_WIDTHS, STAGE_STRIDES)):
            for j in range(layers):
                layer = FBNetLayerSpec(cin, cout, stride if j == 0 else 1, str(next(names)), hw, stage)
                result.append(layer)
                cin, hw = cout, layer.out_hw
        return result + [FeatureMixHeadSpec(cin, hw, HEAD_WIDTH, 0, self.io.num_classes, "relu", (len(STAGE_LAYERS) - 1,))]  # type: ignore[arg-type]

    def build_supernet(self) -> Supernet:
        from hwnas.search_spaces._conv_nets import StagedNet  # torch: only building the supernet needs it
        from hwnas.search_spaces._supernet import Supernet

        return Supernet(self, StagedNet.from_blocks(self.blocks(self.max_arch())))
