"""Block specs of the sequence spaces (transformer layers, token and patch fronts, heads, a waveform front end).

Specs describe one block at its active sizes and its ops without torch; a buildable spec imports its
supernet module (`elastic.blocks`) only in `build()`. The networks around them (`_transformers`,
`_waveform`) build their own fronts and heads from these specs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._block import BlockSpec, BuildableSpec
from hwnas.search_spaces._ops import OpSpec

if TYPE_CHECKING:
    from hwnas.search_spaces.elastic.blocks import TransformerLayer

__all__ = [
    "ConvLayers", "CrossAttention", "DecodingLayerSpec", "MeanClassifierSpec", "PatchEmbedSpec", "TiedOutputSpec",
    "TokenClassifierSpec", "TokenDecodingSpec", "TokenEmbeddingSpec", "TransformerLayerSpec", "WaveformFrontSpec",
    "attention_ops", "conv_frames",
]

@dataclass(frozen=True)
class CrossAttention:
    """A decoder layer's softmax attention over the last `memory_layers` encoder outputs (`n_kv` tokens)."""

    n_kv: int
    kv_embed: int
    heads: int
    head_dim: int
    memory_layers: int = 1


def attention_ops(n_q: int, n_kv: int, q_embed: int, kv_embed: int, heads: int, head_dim: int, kind: str,
                  causal: bool, rel_range: int = 0) -> list[OpSpec]:
    qkv = heads * head_dim
    return [
        ops.linear(n_q, q_embed, qkv),
        ops.linear(n_kv, kv_embed, qkv),
        ops.linear(n_kv, kv_embed, qkv),
        ops.attention(kind, n_q, n_kv, heads, head_dim, causal, rel_range),
        ops.linear(n_q, qkv, q_embed),
        ops.add(n_q * q_embed),
        ops.layernorm(n_q, q_embed),
    ]


@dataclass(frozen=True)
class TransformerLayerSpec(BuildableSpec):
    """One layer over `n` tokens at its active sizes.

    The head width is `head_dim` (mixFormer, LightHuBERT), or `qkv_dim / heads` when `qkv_dim` fixes the
    attention width (HAT). `kinds` are the attention kinds the layer's slot offers; `rel_range` is the
    relative range (used only by relative attention).
    """

    n: int
    embed: int
    heads: int
    head_dim: int
    ffn: int
    kind: str
    activation: str
    norm_first: bool
    kinds: tuple[str, ...]
    rel_range: int = 0
    causal: bool = False
    qkv_dim: int | None = None
    cross: CrossAttention | None = None

    def ops(self) -> list[OpSpec]:
        n, embed = self.n, self.embed
        result = attention_ops(n, n, embed, embed, self.heads, self.head_dim, self.kind, self.causal, self.rel_range)
        if self.cross is not None:
            c = self.cross
            result += attention_ops(n, c.n_kv, embed, c.kv_embed, c.heads, c.head_dim, "softmax", False)
        return result + [
            ops.linear(n, embed, self.ffn),
            ops.act(self.activation, n * self.ffn),
            ops.linear(n, self.ffn, embed),
            ops.add(n * embed),
            ops.layernorm(n, embed),
        ]

    def build(self) -> TransformerLayer:
        from hwnas.search_spaces.elastic.blocks import TransformerLayer  # the module needs torch; describing a block does not

        return TransformerLayer.from_spec(self)


@dataclass(frozen=True)
class DecodingLayerSpec(BlockSpec):
    """One decoder `layer` (its forward spec, with its cross-attention) through an incremental decode: `steps`
    steps of `beam` tokens (one per hypothesis).

    As fairseq decodes (and HAT timed it): each step projects only its new tokens; self-attention reads the
    keys and values cached by earlier steps (the query of step t attends t positions); the cross-attention's
    keys and values of the encoder memory are projected once, at the first step, for every hypothesis.
    """

    steps: int
    beam: int
    layer: TransformerLayerSpec

    def ops(self) -> list[OpSpec]:
        layer, b = self.layer, self.beam
        e, c = layer.embed, layer.cross
        assert c is not None, "a decoding layer attends to the encoder memory"
        qkv, cross_qkv = layer.heads * layer.head_dim, c.heads * c.head_dim
        projection, add, norm = ops.linear(b, e, qkv), ops.add(b * e), ops.layernorm(b, e)
        rest = [ops.linear(b, qkv, e), add, norm,  # every step's ops but the self-attention's, made once
                ops.linear(b, e, cross_qkv), ops.attention("softmax", b, c.n_kv, c.heads, c.head_dim),
                ops.linear(b, cross_qkv, e), add, norm,
                ops.linear(b, e, layer.ffn), ops.act(layer.activation, b * layer.ffn), ops.linear(b, layer.ffn, e), add, norm]
        result = [ops.linear(b * c.n_kv, c.kv_embed, cross_qkv), ops.linear(b * c.n_kv, c.kv_embed, cross_qkv)]
        for t in range(1, self.steps + 1):
            result += [projection, projection, projection,
                       ops.attention(layer.kind, b, t, layer.heads, layer.head_dim, causal=True), *rest]
        return result


@dataclass(frozen=True)
class TokenDecodingSpec(BlockSpec):
    """The token ends of an incremental decode: each of `steps` steps looks up `beam` tokens (plus positions)
    and projects the decoder's output onto the vocabulary through the shared table."""

    steps: int
    beam: int
    vocab: int
    dim: int

    def ops(self) -> list[OpSpec]:
        b, d = self.beam, self.dim
        step = [ops.embedding(b, self.vocab, d, shared=True), ops.add(b * d), ops.linear(b, d, self.vocab, bias=False, tied=True)]
        return step * self.steps


@dataclass(frozen=True)
class PatchEmbedSpec(BlockSpec):
    """Patches of a (C, H, W) image or an (L,) signal, a class token and learned positions (`max_tokens` rows)."""

    shape: tuple[int, ...]
    patch: int
    embed: int
    max_tokens: int

    @property
    def tokens(self) -> int:
        spatial = self.shape[1:] if len(self.shape) == 3 else self.shape
        return math.prod(s // self.patch for s in spatial) + 1

    def ops(self) -> list[OpSpec]:
        e, p, shape = self.embed, self.patch, self.shape
        conv = (ops.conv2d(shape[0], e, p, p, (shape[1], shape[2])) if len(shape) == 3 else ops.conv1d(1, e, p, p, shape[0]))
        return [conv, ops.param(e, "cls_token"), ops.param(self.max_tokens * e, "pos_embed"), ops.add(self.tokens * e)]


@dataclass(frozen=True)
class TokenClassifierSpec(BlockSpec):
    """Final LayerNorm, mean over the patch tokens (not the class token), linear classifier."""

    n: int
    embed: int
    num_classes: int

    def ops(self) -> list[OpSpec]:
        n, e = self.n, self.embed
        return [ops.layernorm(n, e), ops.pool("mean", (n - 1) * e, e), ops.linear(1, e, self.num_classes)]


@dataclass(frozen=True)
class TokenEmbeddingSpec(BlockSpec):
    """`n` tokens looked up in the shared table (plus sinusoidal positions); `shared`: counted elsewhere."""

    n: int
    vocab: int
    dim: int
    shared: bool
    padding_idx: int

    def ops(self) -> list[OpSpec]:
        return [ops.embedding(self.n, self.vocab, self.dim, shared=self.shared), ops.add(self.n * self.dim)]


@dataclass(frozen=True)
class TiedOutputSpec(BlockSpec):
    """Token logits through the shared embedding table."""

    n: int
    dim: int
    vocab: int

    def ops(self) -> list[OpSpec]:
        return [ops.linear(self.n, self.dim, self.vocab, bias=False, tied=True)]


ConvLayers = tuple[tuple[int, int, int], ...]  # (channels, kernel, stride) per front-end conv


def conv_frames(conv_layers: ConvLayers, samples: int) -> int:
    """Frames the CNN front end gives for `samples` waveform samples."""
    for _, kernel, stride in conv_layers:
        samples = ops.conv_out_len(samples, kernel, stride, 0)
    return samples


@dataclass(frozen=True)
class WaveformFrontSpec(BlockSpec):
    """CNN features → LN → projection to `embed` → (+ grouped conv positions) → LN, over `samples` samples.

    `depth_layout` (depth → indices of the layers that run) is the supernet's, kept here with its front.
    """

    samples: int
    conv_layers: ConvLayers
    embed: int
    pos_kernel: int
    pos_groups: int
    depth_layout: tuple[tuple[int, tuple[int, ...]], ...] = ()

    @property
    def frames(self) -> int:
        return conv_frames(self.conv_layers, self.samples)

    def ops(self) -> list[OpSpec]:
        result: list[OpSpec] = []
        cin, length = 1, self.samples
        for i, (cout, kernel, stride) in enumerate(self.conv_layers):
            result.append(ops.conv1d(cin, cout, kernel, stride, length, bias=False))
            length = ops.conv_out_len(length, kernel, stride, 0)
            if i == 0:
                result.append(ops.groupnorm(cout, cout, length))
            result.append(ops.act("gelu", cout * length))
            cin = cout
        t, e, k = length, self.embed, self.pos_kernel
        return result + [
            ops.layernorm(t, cin), ops.linear(t, cin, e), ops.param(e, "mask_embedding"),
            ops.conv1d(e, e, k, 1, t, groups=self.pos_groups, padding=k // 2), ops.act("gelu", t * e), ops.add(t * e),
            ops.layernorm(t, e),
        ]


@dataclass(frozen=True)
class MeanClassifierSpec(BlockSpec):
    """Mean of the last hidden states over `n` frames, then a linear classifier."""

    n: int
    embed: int
    num_classes: int

    def ops(self) -> list[OpSpec]:
        return [ops.pool("mean", self.n * self.embed, self.embed), ops.linear(1, self.embed, self.num_classes)]
