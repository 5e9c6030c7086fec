"""Elastic layers shared by every space: each slices its largest weight for the active subnet."""

from hwnas.search_spaces.elastic._base import ElasticLayers, ElasticModule, export_module
from hwnas.search_spaces.elastic.attention import ATTENTION_KINDS, Attention, ElasticAttention, MixedAttention, attend
from hwnas.search_spaces.elastic.blocks import FeedForward, TransformerLayer
from hwnas.search_spaces.elastic.conv import (
    ChannelsLast, ElasticActivation, ElasticBatchNorm2d, ElasticChoice, ElasticConv2d, ElasticDepthwiseConv2d,
    ElasticLayerScale, LayerScale2d,
)
from hwnas.search_spaces.elastic.conv_blocks import (
    ConvNormAct, FusedInvertedBottleneck, InvertedBottleneck, SqueezeExcite, TuckerBlock,
)
from hwnas.search_spaces.elastic.emo_blocks import I2RMB, EMOv2Stem, SpanningWindowAttention
from hwnas.search_spaces.elastic.linear import (
    ElasticConv, ElasticEmbedding, ElasticGroupedConv1d, ElasticLinear, ElasticTensor, TiedEmbedding,
)
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

__all__ = [
    "ATTENTION_KINDS", "Attention", "ChannelsLast", "ConvNormAct", "EMOv2Stem", "ElasticActivation",
    "ElasticAttention", "ElasticBatchNorm2d", "ElasticChoice", "ElasticConv", "ElasticConv2d",
    "ElasticDepthwiseConv2d", "ElasticEmbedding", "ElasticGroupedConv1d", "ElasticLayerNorm", "ElasticLayerScale",
    "ElasticLayers", "ElasticLinear", "ElasticModule", "ElasticTensor", "FeedForward", "FusedInvertedBottleneck",
    "I2RMB", "InvertedBottleneck", "LayerScale2d", "MixedAttention", "SpanningWindowAttention", "SqueezeExcite",
    "TiedEmbedding", "TransformerLayer", "TuckerBlock", "attend", "export_module",
]
