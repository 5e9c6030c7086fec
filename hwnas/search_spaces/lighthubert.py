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
from typing import Any

import torch
from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace
from hwnas.search_spaces._supernet import Supernet
from hwnas.search_spaces._transformers import (
    ConvFeatureExtractor, LayerShape, WaveformEncoder, configure_layer, layer_ops,
)
from hwnas.search_spaces.elastic._base import ElasticLayers
from hwnas.search_spaces.elastic.attention import MixedAttention
from hwnas.search_spaces.elastic.blocks import FeedForward, TransformerLayer
from hwnas.search_spaces.elastic.linear import ElasticGroupedConv1d, ElasticLinear, ElasticTensor
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

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
    "tiny": dict(conv_layers=[(32, 5, 2), (32, 3, 2)], input_shape=(40,), head_dim=16, pos_conv=(8, 4), num_classes=10,
                 embed_dim=[32, 48, 64], layers=[2, 3, 4], heads=[1, 2], ffn_ratio=[2.0, 3.0, 4.0], depth_layout={}),
}


@register_space("lighthubert")
class LightHuBERTSpace(SearchSpace):
    presets = PRESETS
    default_preset = "tiny"

    def __init__(self, preset: str = "tiny", num_classes: int | None = None) -> None:
        self.config = self.preset_config(preset, num_classes)
        super().__init__(preset, [
            Choice("embed_dim", self.config["embed_dim"]),
            Depth("layers", self.config["layers"]),
            PerLayer("heads", self.config["heads"], depth="layers"),
            PerLayer("ffn_ratio", self.config["ffn_ratio"], depth="layers"),
        ])

    def layer_shapes(self, arch: Arch) -> list[LayerShape]:
        arch = self.validate(arch)
        embed = arch["embed_dim"]
        return [LayerShape(embed, h, self.config["head_dim"], int(r * embed)) for h, r in zip(arch["heads"], arch["ffn_ratio"])]

    def build_supernet(self) -> Supernet:
        c = self.config
        e_max, h_max = max(c["embed_dim"]), max(c["heads"])
        f_max = int(max(c["ffn_ratio"]) * e_max)
        kernel, groups = c["pos_conv"]
        features = ConvFeatureExtractor(c["conv_layers"])
        feature_dim = c["conv_layers"][-1][0]

        def layer() -> TransformerLayer:
            attn = MixedAttention(("softmax",), e_max, h_max, head_dim=c["head_dim"])
            return TransformerLayer(attn, FeedForward(e_max, f_max, "gelu"), e_max, norm_first=False)

        net = WaveformEncoder(
            features=features,
            feature_norm=nn.LayerNorm(feature_dim),
            projection=ElasticLinear(feature_dim, e_max),
            mask_embedding=ElasticTensor(torch.empty(e_max).uniform_()),
            pos_conv=ElasticGroupedConv1d(e_max, kernel, groups, padding=kernel // 2),
            encoder_norm=ElasticLayerNorm(e_max),
            layers=ElasticLayers([layer() for _ in range(max(c["layers"]))], c["depth_layout"]),
            head=None if c["num_classes"] is None else ElasticLinear(e_max, c["num_classes"]),
        )
        return _LightHuBERTSupernet(self, net)

    def ops(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[ops.OpSpec]:
        c = self.config
        samples = tuple(input_shape or self.default_input_shape)[-1]
        embed = self.validate(arch)["embed_dim"]
        features = ConvFeatureExtractor(c["conv_layers"])
        t, feature_dim = features.frames(samples), c["conv_layers"][-1][0]
        kernel, groups = c["pos_conv"]
        result = features.describe(samples) + [
            ops.layernorm(t, feature_dim),
            ops.linear(t, feature_dim, embed),
            ops.param(embed, "mask_embedding"),
            ops.conv1d(embed, embed, kernel, 1, t, groups=groups, padding=kernel // 2),
            ops.act("gelu", t * embed),
            ops.add(t * embed),
            ops.layernorm(t, embed),
        ]
        for layer in self.layer_shapes(arch):
            result += layer_ops(t, layer, "gelu")
        if c["num_classes"] is not None:
            result += [ops.pool("mean", t * embed, embed), ops.linear(1, embed, c["num_classes"])]
        return result


class _LightHuBERTSupernet(Supernet):
    def _configure(self, arch: Arch) -> None:
        space: LightHuBERTSpace = self.space  # type: ignore[assignment]
        net: WaveformEncoder = self.net  # type: ignore[assignment]
        embed = arch["embed_dim"]
        net.projection.configure(net.projection.max_in, embed)
        net.mask_embedding.active_dim = embed
        net.pos_conv.active_channels = embed
        net.encoder_norm.active_dim = embed
        for layer, shape in zip(net.layers.configure(arch["layers"]), space.layer_shapes(arch)):
            configure_layer(layer, shape)
        if net.head is not None:
            net.head.configure(embed, space.config["num_classes"])
