"""A HuBERT-style waveform encoder assembled from block specs: CNN front end, transformer layers, optional head.

Its block list is `[front, layer, ..., (head)]`; as in `_transformers`, `from_blocks` builds the supernet
from the largest arch's list, `configure` walks any arch's list, and extracted subnets reuse the class.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces._block import BlockSpec
from hwnas.search_spaces._sequence_specs import MeanClassifierSpec, WaveformFrontSpec, conv_frames
from hwnas.search_spaces._supernet import Network
from hwnas.search_spaces.elastic._base import ElasticLayers
from hwnas.search_spaces.elastic.linear import ElasticGroupedConv1d, ElasticLinear, ElasticTensor
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm


class ConvFeatureExtractor(nn.Sequential):
    """wav2vec 2.0 / HuBERT waveform front end: bias-free convs + GELU, GroupNorm after the first."""

    def __init__(self, layers: Sequence[tuple[int, int, int]]) -> None:
        modules: list[nn.Module] = []
        cin = 1
        for i, (cout, kernel, stride) in enumerate(layers):
            modules.append(nn.Conv1d(cin, cout, kernel, stride=stride, bias=False))
            if i == 0:
                modules.append(nn.GroupNorm(cout, cout))
            modules.append(nn.GELU())
            cin = cout
        super().__init__(*modules)
        self.conv_layers = tuple(layers)

    def frames(self, samples: int) -> int:
        return conv_frames(self.conv_layers, samples)


class WaveformEncoder(Network):
    """HuBERT-style encoder: CNN features → LN → projection → (+ conv positions) → LN → post-norm layers.

    With a `head`, the mean of the last hidden states is classified; without one, hidden states are returned.
    `mask` (B, T) replaces masked frames by the learned mask embedding, as in masked-prediction pre-training.
    """

    def __init__(self, features: ConvFeatureExtractor, feature_norm: nn.Module, projection: nn.Module,
                 mask_embedding: nn.Module, pos_conv: nn.Module, encoder_norm: nn.Module, layers: nn.Module,
                 head: nn.Module | None) -> None:
        super().__init__()
        self.features, self.feature_norm, self.projection = features, feature_norm, projection
        self.mask_embedding, self.pos_conv, self.encoder_norm = mask_embedding, pos_conv, encoder_norm
        self.layers, self.head = layers, head

    @staticmethod
    def _parts(blocks: Sequence[BlockSpec]) -> tuple[WaveformFrontSpec, list, MeanClassifierSpec | None]:
        front, *rest = blocks
        head = rest[-1] if rest and isinstance(rest[-1], MeanClassifierSpec) else None
        return front, rest[:-1] if head is not None else rest, head  # type: ignore[return-value]

    @classmethod
    def from_blocks(cls, blocks: Sequence[BlockSpec]) -> WaveformEncoder:
        front, layers, head = cls._parts(blocks)
        e, feature_dim, k = front.embed, front.conv_layers[-1][0], front.pos_kernel
        features = ConvFeatureExtractor(front.conv_layers)
        return cls(
            features=features,
            feature_norm=nn.LayerNorm(feature_dim),
            projection=ElasticLinear(feature_dim, e),
            mask_embedding=ElasticTensor(torch.empty(e).uniform_()),
            pos_conv=ElasticGroupedConv1d(e, k, front.pos_groups, padding=k // 2),
            encoder_norm=ElasticLayerNorm(e),
            layers=ElasticLayers([layer.build() for layer in layers], dict(front.depth_layout)),
            head=None if head is None else ElasticLinear(e, head.num_classes),
        )

    def configure(self, blocks: Sequence[BlockSpec]) -> None:
        front, layers, head = self._parts(blocks)
        e = front.embed
        self.projection.configure(self.projection.max_in, e)  # type: ignore[operator,union-attr]
        self.mask_embedding.active_dim = e  # type: ignore[assignment]
        self.pos_conv.active_channels = e  # type: ignore[assignment]
        self.encoder_norm.active_dim = e  # type: ignore[assignment]
        for layer, spec in zip(self.layers.configure(len(layers)), layers):  # type: ignore[operator]
            layer.configure(spec)
        if self.head is not None and head is not None:
            self.head.configure(e, head.num_classes)  # type: ignore[operator]

    def hidden_states(self, waveform: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The last layer's per-frame hidden states (B, frames, embed), masked frames replaced first."""
        x = self.projection(self.feature_norm(self.features(waveform.unsqueeze(1)).transpose(1, 2)))
        if mask is not None:
            x = torch.where(mask.unsqueeze(-1), self.mask_embedding().to(x.dtype), x)
        positions = self.pos_conv(x.transpose(1, 2))[..., :-1]  # even kernel: drop the extra frame
        x = self.encoder_norm(x + F.gelu(positions).transpose(1, 2))
        for layer in self.layers:
            x = layer(x)
        return x

    def forward(self, waveform: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.hidden_states(waveform, mask)
        return x if self.head is None else self.head(x.mean(dim=1))
