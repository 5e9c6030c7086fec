"""Space `mixed-attention`: transformers whose every layer picks softmax, cosFormer (linear) or relative
attention, with elastic heads, FFN width, embed width and depth.

From "Neural Architecture Search on Efficient Transformers and Beyond" (mixFormer). Presets:
- `cifar10-vit`: the paper's CIFAR-10 ViT supernet (images resized to 224, patch 16, 197 tokens; head dim
  64; ReLU FFN; pre-norm; attention kinds ordered cheapest first, so `max_arch` is all-relative as in the
  official code). The relative range {8, 12, 16} is a global choice; the official code parses these
  values but runs a fixed range of 14.
- `hat-wmt14-en-de`: HAT's WMT'14 En-De SuperTransformer (post-norm, fixed qkv width 512 so the head width
  is 512/heads, arbitrary encoder-decoder attention, shared vocabulary) with a per-layer self-attention
  kind added; with all-softmax layers its archs are exactly the SubTransformers HAT measured. Its latency
  is HAT's: encode a 30-token sentence, then decode 30 steps at beam 5 with cached keys and values.
- `tiny`: a 1-D ViT over MNIST-1D-like signals of length 40, for tests and the quick start.
- `tiny-mt`: a small encoder-decoder over a 16-token vocabulary (sources of 8 tokens, targets of 9 with BOS),
  sized for the generated `seq2seq` task (token reversal) so the translation path trains on a laptop; token 0
  is padding, as in hwnas's seq2seq tasks (HAT's fairseq vocabulary pads with 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from hwnas.errors import InvalidArchError
from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BlockSpec, SpecMemo
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._hat_named import hat_named_archs
from hwnas.search_spaces._io import SpaceIO
from hwnas.search_spaces._registry import register_space
from hwnas.search_spaces._space import SearchSpace
from hwnas.search_spaces._sequence_specs import (
    CrossAttention, DecodingLayerSpec, PatchEmbedSpec, TiedOutputSpec, TokenClassifierSpec, TokenDecodingSpec,
    TokenEmbeddingSpec, TransformerLayerSpec,
)

if TYPE_CHECKING:
    from hwnas.search_spaces._supernet import Supernet

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
        decode_beam=5,
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
        c = self.config
        if c["network"] == "seq2seq":  # fairseq's vocabulary (HAT) pads with 1
            self.io = SpaceIO("seq2seq", tuple(c["input_shape"]), vocab_size=c["vocab_size"], padding_idx=c.get("padding_idx", 1))
        else:
            self.io = SpaceIO("classification", tuple(c["input_shape"]), c["num_classes"])
        declaration = _seq2seq_declaration(c) if self.io.is_seq2seq else _classifier_declaration(c)
        #: Specs by the values that shape them (`SpecMemo`): a search walks the same few layers for every arch it prices.
        self._layers = SpecMemo(self._layer)
        self._patch_layers = SpecMemo(self._patch_layer)
        self._decodings = SpecMemo(lambda steps, beam, *layer: DecodingLayerSpec(steps, beam, self._layers[layer]))
        self._ends = SpecMemo()
        #: HAT's inference, where the preset defines it: decode at this beam (see `latency_blocks`).
        self._decode_beam: int | None = c.get("decode_beam") if self.io.is_seq2seq else None
        super().__init__(preset, declaration, named_archs=hat_named_archs() if preset == "hat-wmt14-en-de" else None)

    # -- the one structure ------------------------------------------------------------------------
    def blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BlockSpec]:
        arch, shape = self.validate(arch), self._shape(input_shape)
        return self._seq2seq_blocks(arch, shape) if self.io.is_seq2seq else self._classifier_blocks(arch, shape)

    @property
    def latency_workload(self) -> str | None:  # type: ignore[override]
        beam = self.config.get("decode_beam")
        if not self.io.is_seq2seq or beam is None:
            return None
        src_len, steps = self.default_input_shape
        return (f"translate one sentence as HAT measured it: encode {src_len} tokens, then decode {steps} steps at beam "
                f"{beam}, keys and values cached")

    def latency_blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BlockSpec]:
        """Encoder blocks as in the forward pass; the decoder as an incremental decode of `steps` = target length
        steps at the preset's beam (`DecodingLayerSpec`), where the preset defines one."""
        beam = self._decode_beam
        if beam is None:
            return self.blocks(arch, input_shape)
        arch, (src_len, steps) = self.validate(arch), self._shape(input_shape)
        enc, dec, vocab = int(arch["encoder_embed_dim"]), int(arch["decoder_embed_dim"]), self.io.vocab_size  # type: ignore[arg-type]
        decodings = self._decodings
        return [*self._encoder(arch, src_len), self._ends[TokenDecodingSpec, steps, beam, vocab, dec],
                *[decodings[steps, beam, steps, dec, h, f, kind, src_len, enc, xh, xa]
                  for h, f, kind, xh, xa in self._decoder_choices(arch)]]

    def build_supernet(self) -> Supernet:
        from hwnas.search_spaces._supernet import Supernet  # torch: only building the supernet needs it
        from hwnas.search_spaces._transformers import EncoderDecoder, PatchClassifier

        network = EncoderDecoder if self.io.is_seq2seq else PatchClassifier
        return Supernet(self, network.from_blocks(self.blocks(self.max_arch())))

    def _classifier_blocks(self, arch: Arch, shape: tuple[int, ...]) -> list[BlockSpec]:
        c, embed = self.config, int(arch["embed_dim"])  # type: ignore[arg-type]
        default = self.default_input_shape
        max_tokens = math.prod(s // c["patch"] for s in (default[1:] if len(default) == 3 else default)) + 1
        front = PatchEmbedSpec(shape, c["patch"], embed, max_tokens)
        patches, rel_range = self._patch_layers, int(arch["rel_range"])  # type: ignore[arg-type]
        layers = [patches[front.tokens, embed, h, f, kind, rel_range]
                  for h, f, kind in zip(arch["heads"], arch["ffn_dim"], arch["attn"])]  # type: ignore[arg-type]
        return [front, *layers, TokenClassifierSpec(front.tokens, embed, c["num_classes"])]

    def _patch_layer(self, tokens: int, embed: int, heads: int, ffn: int, kind: str, rel_range: int) -> TransformerLayerSpec:
        """A pre-norm layer of the classifier over `tokens` patches (and the class token)."""
        c = self.config
        return TransformerLayerSpec(tokens, embed, heads, c["head_dim"], ffn, kind, c["activation"], True, tuple(c["attn"]),
                                    rel_range=rel_range)

    def _seq2seq_blocks(self, arch: Arch, shape: tuple[int, ...]) -> list[BlockSpec]:
        src_len, tgt_len = shape
        enc, dec = int(arch["encoder_embed_dim"]), int(arch["decoder_embed_dim"])  # type: ignore[arg-type]
        vocab, pad = self.io.vocab_size, self.io.padding_idx
        layers = self._layers
        return [*self._encoder(arch, src_len), self._ends[TokenEmbeddingSpec, tgt_len, vocab, dec, dec == enc, pad],
                *[layers[tgt_len, dec, h, f, kind, src_len, enc, xh, xa] for h, f, kind, xh, xa in self._decoder_choices(arch)],
                self._ends[TiedOutputSpec, tgt_len, dec, vocab]]

    def _encoder(self, arch: Arch, src_len: int) -> list[BlockSpec]:
        """The source embedding and the encoder layers (the forward pass and the decode walk share them)."""
        enc, layers = int(arch["encoder_embed_dim"]), self._layers  # type: ignore[arg-type]
        return [self._ends[TokenEmbeddingSpec, src_len, self.io.vocab_size, enc, False, self.io.padding_idx],
                *[layers[src_len, enc, h, f, kind]
                  for h, f, kind in zip(arch["encoder_heads"], arch["encoder_ffn_dim"], arch["encoder_attn"])]]  # type: ignore[arg-type]

    @staticmethod
    def _decoder_choices(arch: Arch) -> Iterator[tuple[Any, ...]]:
        """Per decoder layer: its heads, FFN width, attention kind, cross-attention heads and HAT's ende_attn value."""
        return zip(arch["decoder_heads"], arch["decoder_ffn_dim"], arch["decoder_attn"], arch["decoder_ende_heads"],  # type: ignore[arg-type]
                   arch["decoder_ende_attn"])  # type: ignore[arg-type]

    def _layer(self, n: int, embed: int, heads: int, ffn: int, kind: str, *cross: int) -> TransformerLayerSpec:
        """An encoder layer over `n` tokens, or with `cross` = (source length, encoder width, cross-attention heads,
        HAT's ende_attn value) a decoder layer (causal, attending the last encoder outputs)."""
        c, qkv = self.config, self.config["qkv_dim"]
        attends = None
        if cross:
            src_len, enc, cross_heads, ende = cross
            memory = ende_memory_layers(ende)
            attends = CrossAttention(src_len * memory, enc, cross_heads, qkv // cross_heads, memory)
        return TransformerLayerSpec(n, embed, heads, qkv // heads, ffn, kind, c["activation"], False, tuple(c["attn"]),
                                    causal=bool(cross), qkv_dim=qkv, cross=attends)


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
