"""Elastic layers shared by every space: each slices its largest weight for the active subnet."""

from hwnas.search_spaces.elastic._base import ElasticLayers, ElasticModule, export_module
from hwnas.search_spaces.elastic.attention import ATTENTION_KINDS, Attention, ElasticAttention, MixedAttention, attend
from hwnas.search_spaces.elastic.blocks import FeedForward, TransformerLayer
from hwnas.search_spaces.elastic.linear import (
    ElasticConv, ElasticEmbedding, ElasticGroupedConv1d, ElasticLinear, ElasticTensor, TiedEmbedding,
)
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

__all__ = [
    "ATTENTION_KINDS", "Attention", "ElasticAttention", "ElasticConv", "ElasticEmbedding", "ElasticGroupedConv1d",
    "ElasticLayerNorm", "ElasticLayers", "ElasticLinear", "ElasticModule", "ElasticTensor", "FeedForward",
    "MixedAttention", "TiedEmbedding", "TransformerLayer", "attend", "export_module",
]
