"""Space `lighthubert`: LightHuBERT's once-for-all speech transformer (HuBERT-style, post-norm, GELU).

A fixed CNN waveform front end, then a transformer with a global embed width and depth, and per layer
the number of heads (head width 64, so attention width = 64·heads, independent of the embed width)
and the FFN ratio (FFN width = int(ratio·embed)). Choices, depth layouts and the subnet count follow
the official code's `Supernet-Base` / `Supernet-Small` configurations; a smaller depth drops the layers
the official `depth_maps` drop (for 10 layers, the 8th and the 12th).

Parameter counts equal the official `calc_sampled_param_num` (extractor mode "default"), except that
the mask embedding is counted at the subnet's width rather than at 768.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BlockSpec, SpecMemo
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._io import SpaceIO
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace

if TYPE_CHECKING:
    from hwnas.search_spaces._supernet import Supernet
from hwnas.search_spaces._sequence_specs import MeanClassifierSpec, TransformerLayerSpec, WaveformFrontSpec

HUBERT_CONV = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
# The official depth_maps: which of the 12 layers run at a smaller depth.
OFFICIAL_DEPTH_LAYOUT = {10: (0, 1, 2, 3, 4, 5, 6, 8, 9, 10), 11: tuple(range(11)), 12: tuple(range(12))}

PRESETS: dict[str, dict[str, Any]] = {
    "base": dict(conv_layers=HUBERT_CONV, input_shape=(16000,), head_dim=64, pos_conv=(128, 16), num_classes=None,
                 embed_dim=[512, 640, 768], layers=[12], heads=[8, 10, 12], ffn_ratio=[3.5, 4.0],
                 depth_layout=OFFICIAL_DEPTH_LAYOUT),
    "small": dict(conv_layers=HUBERT_CONV, input_shape=(16000,), head_dim=64, pos_conv=(128, 16), num_classes=None,
                  embed_dim=[256, 384, 512], layers=[10, 11, 12], heads=[4, 6, 8], ffn_ratio=[3.0, 3.5, 4.0],
                  depth_layout=OFFICIAL_DEPTH_LAYOUT),
    # speech at CPU size: HuBERT's seven-layer front end (320 samples a frame) at 32 channels, 1 s at 16 kHz
    # (49 frames), the transformer's choices scaled down; for spoken-digits and the user's audio-folder
    "tiny-speech": dict(conv_layers=[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2, input_shape=(16000,), head_dim=16,
                        pos_conv=(16, 4), num_classes=10, embed_dim=[64, 96, 128], layers=[2, 3, 4], heads=[2, 4],
                        ffn_ratio=[2.0, 3.0, 4.0], depth_layout={}),
    "tiny": dict(conv_layers=[(32, 5, 2), (32, 3, 2)], input_shape=(40,), head_dim=16, pos_conv=(8, 4), num_classes=10,
                 embed_dim=[32, 48, 64], layers=[2, 3, 4], heads=[1, 2], ffn_ratio=[2.0, 3.0, 4.0], depth_layout={}),
}


@register_space("lighthubert")
class LightHuBERTSpace(SearchSpace):
    presets = PRESETS
    default_preset = "tiny"

    def __init__(self, preset: str = "tiny", num_classes: int | None = None) -> None:
        self.config = c = self.preset_config(preset, num_classes)
        self.io = SpaceIO("classification", tuple(c["input_shape"]), c["num_classes"])
        super().__init__(preset, [
            Choice("embed_dim", self.config["embed_dim"]),
            Depth("layers", self.config["layers"]),
            PerLayer("heads", self.config["heads"], depth="layers"),
            PerLayer("ffn_ratio", self.config["ffn_ratio"], depth="layers"),
        ])
        #: Layers by the values that shape them (`SpecMemo`): a search walks the same layers for every arch it prices.
        self._layers = SpecMemo(self._layer)
        self._ends = SpecMemo()

    def blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BlockSpec]:
        arch, c, ends = self.validate(arch), self.config, self._ends
        embed, (kernel, groups) = int(arch["embed_dim"]), c["pos_conv"]  # type: ignore[arg-type]
        front = ends[WaveformFrontSpec, self._shape(input_shape)[-1], tuple(c["conv_layers"]), embed, kernel, groups,
                     tuple(sorted(c["depth_layout"].items()))]
        t, layers = front.frames, self._layers
        head = [] if self.io.num_classes is None else [ends[MeanClassifierSpec, t, embed, self.io.num_classes]]
        return [front, *[layers[t, embed, h, r] for h, r in zip(arch["heads"], arch["ffn_ratio"])], *head]  # type: ignore[arg-type]

    def _layer(self, tokens: int, embed: int, heads: int, ffn_ratio: float) -> TransformerLayerSpec:
        """A post-norm softmax layer over `tokens` frames, its FFN `ffn_ratio` × `embed` wide."""
        return TransformerLayerSpec(tokens, embed, heads, self.config["head_dim"], int(ffn_ratio * embed), "softmax", "gelu",
                                    False, ("softmax",))

    def build_supernet(self) -> Supernet:
        from hwnas.search_spaces._supernet import Supernet  # torch: only building the supernet needs it
        from hwnas.search_spaces._waveform import WaveformEncoder

        return Supernet(self, WaveformEncoder.from_blocks(self.blocks(self.max_arch())))
