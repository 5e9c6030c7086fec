"""Every block spec type, for code that walks `space.blocks(arch)` (phone block tables, export, reports).

Specs are frozen dataclasses of one block's active sizes; see `BlockSpec`. None of them imports torch.
"""

from hwnas.search_spaces._block import HW, BlockSpec, BuildableSpec
from hwnas.search_spaces._conv_specs import (
    ClassifierHeadSpec, ConvSpec, FusedIBNSpec, IBNSpec, MobileLayerSpec, SSDLiteHeadSpec, TuckerSpec,
)
from hwnas.search_spaces._emo_specs import EMOv2StemSpec, I2RMBSpec
from hwnas.search_spaces._sequence_specs import (
    CrossAttention, DecodingLayerSpec, MeanClassifierSpec, PatchEmbedSpec, TiedOutputSpec, TokenClassifierSpec,
    TokenDecodingSpec, TokenEmbeddingSpec, TransformerLayerSpec, WaveformFrontSpec,
)

__all__ = [
    "HW", "BlockSpec", "BuildableSpec", "ClassifierHeadSpec", "ConvSpec", "CrossAttention", "DecodingLayerSpec",
    "EMOv2StemSpec", "FusedIBNSpec", "I2RMBSpec", "IBNSpec", "MeanClassifierSpec", "MobileLayerSpec", "PatchEmbedSpec",
    "SSDLiteHeadSpec", "TiedOutputSpec", "TokenClassifierSpec", "TokenDecodingSpec", "TokenEmbeddingSpec",
    "TransformerLayerSpec", "TuckerSpec", "WaveformFrontSpec",
]
