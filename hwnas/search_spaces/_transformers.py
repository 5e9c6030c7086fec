"""Transformer networks assembled from elastic blocks, and their operator descriptions.

Three shapes cover the transformer spaces: a patch classifier (ViT over images or 1-D signals), an
encoder-decoder translator (HAT's SuperTransformer) and a waveform encoder (HuBERT-style CNN front end).
Their forward passes only call children, so extracted subnets reuse these classes unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._ops import OpSpec
from hwnas.search_spaces.elastic.blocks import TransformerLayer


@dataclass(frozen=True)
class LayerShape:
    """The active sizes of one transformer layer, as `layer_ops` needs them."""

    embed: int
    heads: int
    head_dim: int
    ffn: int
    kind: str = "softmax"
    rel_range: int = 0
    causal: bool = False


def attention_ops(n_q: int, n_kv: int, q_embed: int, kv_embed: int, shape: LayerShape, kind: str, causal: bool) -> list[OpSpec]:
    qkv = shape.heads * shape.head_dim
    return [
        ops.linear(n_q, q_embed, qkv),
        ops.linear(n_kv, kv_embed, qkv),
        ops.linear(n_kv, kv_embed, qkv),
        ops.attention(kind, n_q, n_kv, shape.heads, shape.head_dim, causal, shape.rel_range),
        ops.linear(n_q, qkv, q_embed),
        ops.add(n_q * q_embed),
        ops.layernorm(n_q, q_embed),
    ]


def layer_ops(n: int, shape: LayerShape, activation: str, cross: tuple[int, int, LayerShape] | None = None) -> list[OpSpec]:
    """Ops of one layer over `n` tokens; `cross` = (memory tokens, memory width, cross-attention shape)."""
    result = attention_ops(n, n, shape.embed, shape.embed, shape, shape.kind, shape.causal)
    if cross is not None:
        n_mem, mem_embed, cross_shape = cross
        result += attention_ops(n, n_mem, shape.embed, mem_embed, cross_shape, cross_shape.kind, False)
    return result + [
        ops.linear(n, shape.embed, shape.ffn),
        ops.act(activation, n * shape.ffn),
        ops.linear(n, shape.ffn, shape.embed),
        ops.add(n * shape.embed),
        ops.layernorm(n, shape.embed),
    ]


class PatchClassifier(nn.Module):
    """ViT: patches (conv, 1-D or 2-D) + class token + learned positions → layers → norm → mean → head.

    As in mixFormer's CIFAR model, tokens are scaled by √width, the class token is kept in the sequence,
    and the prediction pools the patch tokens (not the class token).
    """

    def __init__(self, patch_embed: nn.Module, cls_token: nn.Module, pos_embed: nn.Module, layers: nn.Module,
                 final_norm: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.patch_embed, self.cls_token, self.pos_embed = patch_embed, cls_token, pos_embed
        self.layers, self.final_norm, self.head = layers, final_norm, head

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


class EncoderDecoder(nn.Module):
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


class ConvFeatureExtractor(nn.Sequential):
    """wav2vec 2.0 / HuBERT waveform front end: bias-free convs + GELU, GroupNorm after the first."""

    def __init__(self, layers: list[tuple[int, int, int]]) -> None:
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
        for _, kernel, stride in self.conv_layers:
            samples = ops.conv_out_len(samples, kernel, stride, 0)
        return samples

    def describe(self, samples: int) -> list[OpSpec]:
        result: list[OpSpec] = []
        cin, length = 1, samples
        for i, (cout, kernel, stride) in enumerate(self.conv_layers):
            result.append(ops.conv1d(cin, cout, kernel, stride, length, bias=False))
            length = ops.conv_out_len(length, kernel, stride, 0)
            if i == 0:
                result.append(ops.groupnorm(cout, cout, length))
            result.append(ops.act("gelu", cout * length))
            cin = cout
        return result


class WaveformEncoder(nn.Module):
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

    def forward(self, waveform: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.projection(self.feature_norm(self.features(waveform.unsqueeze(1)).transpose(1, 2)))
        if mask is not None:
            x = torch.where(mask.unsqueeze(-1), self.mask_embedding().to(x.dtype), x)
        positions = self.pos_conv(x.transpose(1, 2))[..., :-1]  # even kernel: drop the extra frame
        x = self.encoder_norm(x + F.gelu(positions).transpose(1, 2))
        for layer in self.layers:
            x = layer(x)
        return x if self.head is None else self.head(x.mean(dim=1))


def configure_layer(layer: TransformerLayer, shape: LayerShape, cross: tuple[int, int, str] | None = None) -> None:
    """Set a supernet layer to `shape`; `cross` = (cross heads, memory width, cross kind) for decoders."""
    layer.self_attn.configure(shape.kind, shape.heads, shape.embed, rel_range=shape.rel_range)
    if cross is not None:
        heads, mem_embed, kind = cross
        layer.cross_attn.configure(kind, heads, shape.embed, kv_embed=mem_embed)
    layer.ffn.configure(shape.embed, shape.ffn)
    layer.configure_norms(shape.embed)
