"""Space `mixed-attention`: transformers whose every layer picks softmax, cosFormer (linear) or relative
attention, with elastic heads, FFN width, embed width and depth.

From "Neural Architecture Search on Efficient Transformers and Beyond" (mixFormer). Presets:
- `cifar10-vit`: the paper's CIFAR-10 ViT supernet (images resized to 224, patch 16, 197 tokens; head dim
  64; ReLU FFN; pre-norm; attention kinds ordered cheapest first, so `max_arch` is all-relative as in the
  official code). The relative range {8, 12, 16} is a global choice; the official code parses these
  values but runs a fixed range of 14.
- `hat-wmt14-en-de`: HAT's WMT'14 En-De SuperTransformer (post-norm, fixed qkv width 512 so the head width
  is 512/heads, arbitrary encoder-decoder attention, shared vocabulary) with a per-layer self-attention
  kind added; with all-softmax layers its archs are exactly the SubTransformers HAT measured.
- `tiny`: a 1-D ViT over MNIST-1D-like signals of length 40, for tests and the quick start.
- `tiny-mt`: a small encoder-decoder over a 16-token vocabulary (sources of 8 tokens, targets of 9 with BOS),
  sized for the generated `seq2seq` task (token reversal) so the translation path trains on a laptop; token 0
  is padding, as in hwnas's seq2seq tasks (HAT's fairseq vocabulary pads with 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from hwnas.search_spaces import _ops as ops
from hwnas.errors import InvalidArchError
from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._hat_named import hat_named_archs
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace
from hwnas.search_spaces._supernet import Supernet
from hwnas.search_spaces._transformers import EncoderDecoder, LayerShape, PatchClassifier, configure_layer, layer_ops
from hwnas.search_spaces.elastic._base import ElasticLayers
from hwnas.search_spaces.elastic.attention import MixedAttention
from hwnas.search_spaces.elastic.blocks import FeedForward, TransformerLayer
from hwnas.search_spaces.elastic.linear import ElasticConv, ElasticEmbedding, ElasticLinear, ElasticTensor
from hwnas.search_spaces.elastic.norm import ElasticLayerNorm

KINDS = ("cosformer", "softmax", "relative")

PRESETS: dict[str, dict[str, Any]] = {
    "cifar10-vit": dict(
        network="classifier", input_shape=(3, 224, 224), patch=16, num_classes=10, head_dim=64, activation="relu",
        embed_dim=[320, 384, 448], layers=[12, 13, 14], heads=[5, 6, 7], ffn_dim=[672, 896, 1344, 1568, 1792],
        attn=list(KINDS), rel_range=[8, 12, 16],
    ),
    "tiny": dict(
        network="classifier", input_shape=(40,), patch=4, num_classes=10, head_dim=16, activation="relu",
        embed_dim=[32, 48, 64], layers=[2, 3, 4], heads=[1, 2], ffn_dim=[64, 96, 128],
        attn=list(KINDS), rel_range=[2, 4],
    ),
    "tiny-mt": dict(
        network="seq2seq", input_shape=(8, 9), vocab_size=16, qkv_dim=32, activation="relu", padding_idx=0,
        embed_dim=[32, 48], encoder_layers=[2, 3], decoder_layers=[2], ffn_dim=[64, 96], heads=[2, 4],
        attn=["cosformer", "softmax"], ende_attn=[-1, 1],
    ),
    "hat-wmt14-en-de": dict(
        network="seq2seq", input_shape=(30, 30), vocab_size=32768, qkv_dim=512, activation="relu",
        embed_dim=[512, 640], encoder_layers=[6], decoder_layers=[1, 2, 3, 4, 5, 6],
        ffn_dim=[512, 1024, 2048, 3072], heads=[2, 4, 8], attn=["cosformer", "softmax"], ende_attn=[-1, 1, 2],
    ),
}


def _classifier_declaration(p: dict[str, Any]) -> list:
    return [
        Choice("embed_dim", p["embed_dim"]),
        Depth("layers", p["layers"]),
        PerLayer("attn", p["attn"], depth="layers"),
        PerLayer("heads", p["heads"], depth="layers"),
        PerLayer("ffn_dim", p["ffn_dim"], depth="layers"),
        Choice("rel_range", p["rel_range"]),
    ]


def _seq2seq_declaration(p: dict[str, Any]) -> list:
    return [
        Choice("encoder_embed_dim", p["embed_dim"]),
        Depth("encoder_layers", p["encoder_layers"]),
        PerLayer("encoder_attn", p["attn"], depth="encoder_layers"),
        PerLayer("encoder_heads", p["heads"], depth="encoder_layers"),
        PerLayer("encoder_ffn_dim", p["ffn_dim"], depth="encoder_layers"),
        Choice("decoder_embed_dim", p["embed_dim"]),
        Depth("decoder_layers", p["decoder_layers"]),
        PerLayer("decoder_attn", p["attn"], depth="decoder_layers"),
        PerLayer("decoder_heads", p["heads"], depth="decoder_layers"),
        PerLayer("decoder_ende_heads", p["heads"], depth="decoder_layers"),
        PerLayer("decoder_ende_attn", p["ende_attn"], depth="decoder_layers"),
        PerLayer("decoder_ffn_dim", p["ffn_dim"], depth="decoder_layers"),
    ]


def ende_memory_layers(ende_attn: int) -> int:
    """HAT's arbitrary attention value (-1, 1, 2) → number of last encoder layers attended (1, 2, 3)."""
    return 1 if ende_attn == -1 else ende_attn + 1


@register_space("mixed-attention")
class MixedAttentionSpace(SearchSpace):
    presets = PRESETS
    default_preset = "tiny"

    def __init__(self, preset: str = "tiny", vocab_size: int | None = None, num_classes: int | None = None,
                 attention: Sequence[str] | None = None) -> None:
        """`attention` narrows the per-layer kinds, e.g. ["softmax"] for HAT's own space (its latency profiles)."""
        self.config = self.preset_config(preset, num_classes, vocab_size=vocab_size)
        if attention is not None:
            unknown = [k for k in attention if k not in self.config["attn"]]
            if unknown or not attention:
                raise InvalidArchError(f"attention kinds {list(attention)} must be a non-empty subset of {self.config['attn']}")
            self.config["attn"] = [k for k in self.config["attn"] if k in attention]
        seq2seq = self.config["network"] == "seq2seq"
        declaration = _seq2seq_declaration(self.config) if seq2seq else _classifier_declaration(self.config)
        super().__init__(preset, declaration, named_archs=hat_named_archs() if preset == "hat-wmt14-en-de" else None)

    @property
    def is_seq2seq(self) -> bool:
        return self.config["network"] == "seq2seq"

    def example_input(self, batch: int = 1, input_shape: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
        shape = tuple(input_shape or self.default_input_shape)
        generator = torch.Generator().manual_seed(0)
        if self.is_seq2seq:
            src_len, tgt_len = shape
            vocab = self.config["vocab_size"]
            return (torch.randint(4, vocab, (batch, src_len), generator=generator),
                    torch.randint(4, vocab, (batch, tgt_len), generator=generator))
        return (torch.randn(batch, *shape, generator=generator),)

    # -- supernet -------------------------------------------------------------------------------
    def build_supernet(self) -> Supernet:
        return (_build_seq2seq if self.is_seq2seq else _build_classifier)(self)

    def layer_shapes(self, arch: Arch, prefix: str = "") -> list[LayerShape]:
        """Per-layer sizes of the classifier (prefix '') or of a seq2seq stack ('encoder_'/'decoder_')."""
        arch = self.validate(arch)
        c = self.config
        if self.is_seq2seq:
            embed = arch[f"{prefix}embed_dim"]
            return [LayerShape(embed, h, c["qkv_dim"] // h, f, kind, causal=prefix == "decoder_")
                    for h, f, kind in zip(arch[f"{prefix}heads"], arch[f"{prefix}ffn_dim"], arch[f"{prefix}attn"])]
        return [LayerShape(arch["embed_dim"], h, c["head_dim"], f, kind, arch["rel_range"] if kind == "relative" else 0)
                for h, f, kind in zip(arch["heads"], arch["ffn_dim"], arch["attn"])]

    # -- operators ------------------------------------------------------------------------------
    def ops(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[ops.OpSpec]:
        shape = tuple(input_shape or self.default_input_shape)
        return self._seq2seq_ops(arch, shape) if self.is_seq2seq else self._classifier_ops(arch, shape)

    def _patch_grid(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        spatial = shape[1:] if len(shape) == 3 else shape  # (C, H, W) images or (L,) signals
        return tuple(s // self.config["patch"] for s in spatial)

    def _max_tokens(self) -> int:
        return math.prod(self._patch_grid(self.default_input_shape)) + 1

    def _classifier_ops(self, arch: Arch, shape: tuple[int, ...]) -> list[ops.OpSpec]:
        c, embed = self.config, self.validate(arch)["embed_dim"]
        n = math.prod(self._patch_grid(shape)) + 1
        if len(shape) == 3:
            result = [ops.conv2d(shape[0], embed, c["patch"], c["patch"], (shape[1], shape[2]))]
        else:
            result = [ops.conv1d(1, embed, c["patch"], c["patch"], shape[0])]
        result += [ops.param(embed, "cls_token"), ops.param(self._max_tokens() * embed, "pos_embed"), ops.add(n * embed)]
        for layer in self.layer_shapes(arch):
            result += layer_ops(n, layer, c["activation"])
        return result + [ops.layernorm(n, embed), ops.pool("mean", (n - 1) * embed, embed), ops.linear(1, embed, c["num_classes"])]

    def _seq2seq_ops(self, arch: Arch, shape: tuple[int, ...]) -> list[ops.OpSpec]:
        arch, c = self.validate(arch), self.config
        src_len, tgt_len = shape
        enc, dec = arch["encoder_embed_dim"], arch["decoder_embed_dim"]
        result = [ops.embedding(src_len, c["vocab_size"], enc), ops.add(src_len * enc)]
        for layer in self.layer_shapes(arch, "encoder_"):
            result += layer_ops(src_len, layer, c["activation"])
        result += [ops.embedding(tgt_len, c["vocab_size"], dec, shared=dec == enc), ops.add(tgt_len * dec)]
        for layer, ende_heads, ende_attn in zip(self.layer_shapes(arch, "decoder_"), arch["decoder_ende_heads"], arch["decoder_ende_attn"]):
            cross = LayerShape(dec, ende_heads, c["qkv_dim"] // ende_heads, 0, "softmax")
            result += layer_ops(tgt_len, layer, c["activation"], cross=(src_len * ende_memory_layers(ende_attn), enc, cross))
        return result + [ops.linear(tgt_len, dec, c["vocab_size"], bias=False, tied=True)]


def hat_latency_features(arch: Arch) -> dict[str, float]:
    """The features HAT's latency datasets record for an arch of `hat-wmt14-en-de` (its CSV columns).

    Per-layer choices are averaged over active layers; arbitrary enc-dec attention is averaged as the
    number of encoder layers attended (1, 2, 3), as HAT does.
    """
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    return {
        "encoder_embed_dim": arch["encoder_embed_dim"],
        "encoder_layer_num": arch["encoder_layers"],
        "encoder_ffn_embed_dim_avg": mean(arch["encoder_ffn_dim"]),
        "encoder_self_attention_heads_avg": mean(arch["encoder_heads"]),
        "decoder_embed_dim": arch["decoder_embed_dim"],
        "decoder_layer_num": arch["decoder_layers"],
        "decoder_ffn_embed_dim_avg": mean(arch["decoder_ffn_dim"]),
        "decoder_self_attention_heads_avg": mean(arch["decoder_heads"]),
        "decoder_ende_attention_heads_avg": mean(arch["decoder_ende_heads"]),
        "decoder_arbitrary_ende_attn_avg": mean([ende_memory_layers(v) for v in arch["decoder_ende_attn"]]),
    }


# -- builders -----------------------------------------------------------------------------------------
class _ClassifierSupernet(Supernet):
    def _configure(self, arch: Arch) -> None:
        space: MixedAttentionSpace = self.space  # type: ignore[assignment]
        net: PatchClassifier = self.net  # type: ignore[assignment]
        embed = arch["embed_dim"]
        net.patch_embed.active_out = embed
        net.cls_token.active_dim = embed
        net.pos_embed.active_dim = embed
        for layer, shape in zip(net.layers.configure(arch["layers"]), space.layer_shapes(arch)):
            configure_layer(layer, shape)
        net.final_norm.active_dim = embed
        net.head.configure(embed, space.config["num_classes"])


def _build_classifier(space: MixedAttentionSpace) -> Supernet:
    c = space.config
    e_max, h_max, depth_max = max(c["embed_dim"]), max(c["heads"]), max(c["layers"])
    dims = len(c["input_shape"]) - 1 or 1
    cin = c["input_shape"][0] if dims == 2 else 1

    def layer() -> TransformerLayer:
        attn = MixedAttention(tuple(c["attn"]), e_max, h_max, head_dim=c["head_dim"], max_rel_range=max(c["rel_range"]))
        return TransformerLayer(attn, FeedForward(e_max, max(c["ffn_dim"]), c["activation"]), e_max, norm_first=True)

    net = PatchClassifier(
        patch_embed=ElasticConv(dims, cin, e_max, c["patch"], c["patch"]),
        cls_token=ElasticTensor(torch.zeros(1, 1, e_max)),
        pos_embed=ElasticTensor(torch.nn.init.trunc_normal_(torch.empty(1, space._max_tokens(), e_max), std=0.02)),
        layers=ElasticLayers([layer() for _ in range(depth_max)]),
        final_norm=ElasticLayerNorm(e_max),
        head=ElasticLinear(e_max, c["num_classes"]),
    )
    return _ClassifierSupernet(space, net)


class _Seq2SeqSupernet(Supernet):
    def _configure(self, arch: Arch) -> None:
        space: MixedAttentionSpace = self.space  # type: ignore[assignment]
        net: EncoderDecoder = self.net  # type: ignore[assignment]
        enc, dec = arch["encoder_embed_dim"], arch["decoder_embed_dim"]
        net.src_embed.active_dim, net.tgt_embed.active_dim = enc, dec
        for layer, shape in zip(net.encoder.configure(arch["encoder_layers"]), space.layer_shapes(arch, "encoder_")):
            configure_layer(layer, shape)
        decoder_layers = net.decoder.configure(arch["decoder_layers"])
        for i, (layer, shape) in enumerate(zip(decoder_layers, space.layer_shapes(arch, "decoder_"))):
            configure_layer(layer, shape, cross=(arch["decoder_ende_heads"][i], enc, "softmax"))
            layer.memory_layers = ende_memory_layers(arch["decoder_ende_attn"][i])

    def _finish_export(self, module: torch.nn.Module) -> None:
        if self.active_arch["encoder_embed_dim"] == self.active_arch["decoder_embed_dim"]:
            module.tgt_embed = module.src_embed  # one shared table, as in the supernet


def _build_seq2seq(space: MixedAttentionSpace) -> Supernet:
    c = space.config
    e_max, h_max, f_max, qkv = max(c["embed_dim"]), max(c["heads"]), max(c["ffn_dim"]), c["qkv_dim"]

    def layer(decoder: bool) -> TransformerLayer:
        attn = MixedAttention(tuple(c["attn"]), e_max, h_max, qkv_dim=qkv, causal=decoder)
        cross = MixedAttention(("softmax",), e_max, h_max, qkv_dim=qkv, max_kv_embed=e_max) if decoder else None
        return TransformerLayer(attn, FeedForward(e_max, f_max, c["activation"]), e_max, norm_first=False, cross_attn=cross)

    pad = c.get("padding_idx", 1)  # fairseq's vocabulary (HAT) pads with 1
    src_embed = ElasticEmbedding(c["vocab_size"], e_max, padding_idx=pad)
    tgt_embed = ElasticEmbedding(c["vocab_size"], e_max, padding_idx=pad)
    tgt_embed.weight = src_embed.weight  # share-all-embeddings: one table for source, target and output
    net = EncoderDecoder(
        src_embed, tgt_embed,
        encoder=ElasticLayers([layer(False) for _ in range(max(c["encoder_layers"]))]),
        decoder=ElasticLayers([layer(True) for _ in range(max(c["decoder_layers"]))]),
        position_table_dim=e_max,
    )
    return _Seq2SeqSupernet(space, net)
