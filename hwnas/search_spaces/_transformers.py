"""Transformer networks assembled from block specs: a patch classifier and an encoder-decoder translator.

A network's block list is `[front, layer, ..., head]` (the translator: source embedding, encoder layers,
target embedding, decoder layers, tied output). `from_blocks` builds the supernet from the largest
arch's list and `configure` walks any arch's list onto it; the front and head specs describe the
network's own parts. Forward passes only call children, so extracted subnets reuse these classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from hwnas.search_spaces._block import BlockSpec
from hwnas.search_spaces._sequence_specs import (
    PatchEmbedSpec, TiedOutputSpec, TokenClassifierSpec, TokenEmbeddingSpec, TransformerLayerSpec,
)
from hwnas.search_spaces._supernet import Network
from hwnas.search_spaces.elastic._base import ElasticLayers
from hwnas.search_spaces.elastic.linear import ElasticConv, ElasticEmbedding, ElasticLinear, ElasticTensor
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm


class PatchClassifier(Network):
    """ViT: patches (conv, 1-D or 2-D) + class token + learned positions → layers → norm → mean → head.

    As in mixFormer's CIFAR model, tokens are scaled by √width, the class token is kept in the sequence,
    and the prediction pools the patch tokens (not the class token).
    """

    def __init__(self, patch_embed: nn.Module, cls_token: nn.Module, pos_embed: nn.Module, layers: nn.Module,
                 final_norm: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.patch_embed, self.cls_token, self.pos_embed = patch_embed, cls_token, pos_embed
        self.layers, self.final_norm, self.head = layers, final_norm, head

    @classmethod
    def from_blocks(cls, blocks: Sequence[BlockSpec]) -> PatchClassifier:
        front, *layers, head = blocks
        e, dims = front.embed, 2 if len(front.shape) == 3 else 1  # type: ignore[attr-defined]
        return cls(
            patch_embed=ElasticConv(dims, front.shape[0] if dims == 2 else 1, e, front.patch, front.patch),  # type: ignore[attr-defined]
            cls_token=ElasticTensor(torch.zeros(1, 1, e)),
            pos_embed=ElasticTensor(torch.nn.init.trunc_normal_(torch.empty(1, front.max_tokens, e), std=0.02)),  # type: ignore[attr-defined]
            layers=ElasticLayers([layer.build() for layer in layers]),  # type: ignore[attr-defined]
            final_norm=ElasticLayerNorm(e),
            head=ElasticLinear(e, head.num_classes),  # type: ignore[attr-defined]
        )

    def configure(self, blocks: Sequence[BlockSpec]) -> None:
        front, *layers, head = blocks
        self.patch_embed.active_out = front.embed  # type: ignore[attr-defined]
        self.cls_token.active_dim = self.pos_embed.active_dim = front.embed  # type: ignore[attr-defined]
        for layer, spec in zip(self.layers.configure(len(layers)), layers):  # type: ignore[operator]
            layer.configure(spec)
        self.final_norm.active_dim = head.embed  # type: ignore[attr-defined]
        self.head.configure(head.embed, head.num_classes)  # type: ignore[attr-defined,operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # (B, L) signals: one input channel
            x = x.unsqueeze(1)
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token().expand(tokens.shape[0], -1, -1)
        x = torch.cat([cls, tokens], dim=1) * math.sqrt(tokens.shape[-1])
        x = x + self.pos_embed()[:, : x.shape[1]]
        for layer in self.layers:
            x = layer(x)
        return self.head(self.final_norm(x)[:, 1:].mean(dim=1))


def sinusoidal_positions(n: int, table_dim: int, width: int, device: torch.device) -> torch.Tensor:
    """fairseq/HAT positions: [sin, cos] of `table_dim/2` frequencies, first `width` columns (HAT slices it)."""
    half = table_dim // 2
    freq = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
    angles = torch.arange(n, device=device, dtype=torch.float32)[:, None] * freq[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)[:, :width]


def _translator_parts(blocks: Sequence[BlockSpec]) -> tuple[TokenEmbeddingSpec, list, TokenEmbeddingSpec, list]:
    """(source embedding, encoder layers, target embedding, decoder layers) of a translator's block list."""
    target = next(i for i, block in enumerate(blocks) if i > 0 and isinstance(block, TokenEmbeddingSpec))
    return blocks[0], list(blocks[1:target]), blocks[target], list(blocks[target + 1 : -1])  # type: ignore[return-value]


class EncoderDecoder(Network):
    """HAT's SuperTransformer: shared token table, sinusoidal positions, post-norm layers, tied output.

    Decoder layer i cross-attends to the concatenation (along time) of the last `memory_layers`
    encoder layers' outputs: HAT's arbitrary encoder-decoder attention.
    """

    def __init__(self, src_embed: nn.Module, tgt_embed: nn.Module, encoder: nn.Module, decoder: nn.Module,
                 position_table_dim: int) -> None:
        super().__init__()
        self.src_embed, self.tgt_embed = src_embed, tgt_embed
        self.encoder, self.decoder = encoder, decoder
        self.position_table_dim = position_table_dim

    @classmethod
    def from_blocks(cls, blocks: Sequence[BlockSpec]) -> EncoderDecoder:
        src, encoder, tgt, decoder = _translator_parts(blocks)
        src_embed = ElasticEmbedding(src.vocab, src.dim, padding_idx=src.padding_idx)
        tgt_embed = ElasticEmbedding(tgt.vocab, tgt.dim, padding_idx=tgt.padding_idx)
        tgt_embed.weight = src_embed.weight  # share-all-embeddings: one table for source, target and output
        return cls(src_embed, tgt_embed, ElasticLayers([layer.build() for layer in encoder]),
                   ElasticLayers([layer.build() for layer in decoder]), position_table_dim=src.dim)

    def configure(self, blocks: Sequence[BlockSpec]) -> None:
        src, encoder, tgt, decoder = _translator_parts(blocks)
        self.src_embed.active_dim, self.tgt_embed.active_dim = src.dim, tgt.dim
        for stack, specs in ((self.encoder, encoder), (self.decoder, decoder)):
            for layer, spec in zip(stack.configure(len(specs)), specs):  # type: ignore[operator]
                layer.configure(spec)

    def finish_export(self, module: nn.Module, blocks: Sequence[BlockSpec]) -> None:
        src, _, tgt, _ = _translator_parts(blocks)
        if src.dim == tgt.dim:
            module.tgt_embed = module.src_embed  # one shared table, as in the supernet

    def _embed(self, table: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        x = table(tokens)
        width = x.shape[-1]
        return x * math.sqrt(width) + sinusoidal_positions(tokens.shape[1], self.position_table_dim, width, x.device)

    def forward(self, src_tokens: torch.Tensor, tgt_tokens: torch.Tensor) -> torch.Tensor:
        x = self._embed(self.src_embed, src_tokens)
        encoder_outputs = []
        for layer in self.encoder:
            x = layer(x)
            encoder_outputs.append(x)
        y = self._embed(self.tgt_embed, tgt_tokens)
        for layer in self.decoder:
            memory = torch.cat(encoder_outputs[::-1][: layer.memory_layers], dim=1)
            y = layer(y, memory)
        return self.tgt_embed.project(y)


__all__ = [
    "EncoderDecoder", "PatchClassifier", "PatchEmbedSpec", "TiedOutputSpec", "TokenClassifierSpec", "TokenEmbeddingSpec",
    "TransformerLayerSpec", "sinusoidal_positions",
]
