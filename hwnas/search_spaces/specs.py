"""Every block spec type, for code that walks `space.blocks(arch)` (phone block tables, export, reports).

Specs are frozen dataclasses of one block's active sizes; see `BlockSpec`.
"""

from hwnas.search_spaces._block import HW, BlockSpec, BuildableSpec
from hwnas.search_spaces._conv_nets import ClassifierHeadSpec, SSDLiteHeadSpec
from hwnas.search_spaces._transformers import PatchEmbedSpec, TiedOutputSpec, TokenClassifierSpec, TokenEmbeddingSpec
from hwnas.search_spaces._waveform import MeanClassifierSpec, WaveformFrontSpec
from hwnas.search_spaces.elastic.blocks import CrossAttention, TransformerLayerSpec
from hwnas.search_spaces.elastic.conv_blocks import ConvSpec, FusedIBNSpec, IBNSpec, MobileLayerSpec, TuckerSpec
from hwnas.search_spaces.elastic.emo_blocks import EMOv2StemSpec, I2RMBSpec

__all__ = [
    "HW", "BlockSpec", "BuildableSpec", "ClassifierHeadSpec", "ConvSpec", "CrossAttention", "EMOv2StemSpec", "FusedIBNSpec",
    "I2RMBSpec", "IBNSpec", "MeanClassifierSpec", "MobileLayerSpec", "PatchEmbedSpec", "SSDLiteHeadSpec", "TiedOutputSpec",
    "TokenClassifierSpec", "TokenEmbeddingSpec", "TransformerLayerSpec", "TuckerSpec", "WaveformFrontSpec",
]
