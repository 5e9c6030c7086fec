"""HAT's published WMT'14 En-De SubTransformers as points of the `hat-wmt14-en-de` preset.

Each row: (name, published params in M without embeddings, BLEU, encoder width, encoder FFN per layer,
encoder heads per layer, decoder width, decoder FFN, decoder heads, enc-dec heads, arbitrary enc-dec
attention), transcribed from HAT's released SubTransformer configs and its model table. Names carry the
device and the latency HAT measured there. All their layers use softmax attention.
"""

from __future__ import annotations

from typing import Any

HAT_SUBTRANSFORMERS: list[tuple[Any, ...]] = [
    ("hat-raspberrypi-3.5s", 25.22, 25.8, 512, [1024, 3072, 3072, 2048, 2048, 2048], [4, 8, 4, 4, 4, 8], 512, [3072], [8], [8], [-1]),
    ("hat-raspberrypi-4.0s", 29.42, 26.9, 512, [3072, 2048, 3072, 2048, 3072, 2048], [8, 8, 8, 4, 8, 8], 512, [1024, 2048], [4, 4], [8, 8], [-1, -1]),
    ("hat-raspberrypi-4.5s", 35.72, 27.6, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 8, 8, 4, 8, 8], 512, [3072, 3072], [8, 8], [8, 8], [-1, 1]),
    ("hat-raspberrypi-5.0s", 36.77, 27.8, 512, [3072, 3072, 3072, 2048, 3072, 3072], [8, 8, 8, 8, 8, 4], 512, [1024, 2048, 3072], [4, 8, 8], [4, 8, 8], [-1, 1, -1]),
    ("hat-raspberrypi-6.0s", 44.13, 28.2, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 4, 4, 8, 8, 4], 512, [2048, 2048, 3072, 3072], [4, 8, 8, 4], [4, 8, 8, 8], [-1, -1, 1, -1]),
    ("hat-raspberrypi-6.9s", 48.33, 28.4, 512, [3072, 3072, 3072, 3072, 3072, 3072], [8, 4, 8, 8, 8, 8], 512, [2048, 2048, 3072, 3072, 2048], [8, 8, 8, 4, 8], [4, 8, 8, 8, 8], [-1, 1, 1, 1, -1]),
    ("hat-titanxp-126.0ms", 40.97, 27.9, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 4, 8, 8, 8, 4], 512, [3072, 3072, 3072], [8, 8, 8], [4, 8, 8], [-1, 1, 1]),
    ("hat-titanxp-146.7ms", 51.2, 28.1, 640, [3072, 3072, 3072, 3072, 3072, 3072], [4, 8, 8, 8, 4, 4], 640, [3072, 3072, 3072], [8, 8, 8], [4, 8, 8], [-1, 1, 1]),
    ("hat-titanxp-208.1ms", 49.38, 28.5, 512, [3072, 3072, 3072, 3072, 3072, 3072], [8, 4, 8, 8, 8, 4], 512, [2048, 2048, 3072, 3072, 3072], [8, 8, 8, 4, 8], [4, 8, 8, 8, 8], [-1, 1, 1, 1, -1]),
    ("hat-titanxp-57.1ms", 30.47, 25.8, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 8, 8, 8, 8, 8], 512, [3072], [8], [8], [1]),
    ("hat-titanxp-91.2ms", 35.72, 27.6, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 8, 8, 4, 8, 8], 512, [3072, 3072], [8, 8], [8, 8], [-1, 1]),
    ("hat-xeon-137.9ms", 30.47, 25.8, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 8, 8, 8, 8, 8], 512, [3072], [8], [8], [1]),
    ("hat-xeon-204.2ms", 35.72, 27.6, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 8, 8, 4, 8, 8], 512, [3072, 3072], [8, 8], [8, 8], [-1, 1]),
    ("hat-xeon-278.7ms", 40.97, 27.9, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 4, 8, 8, 8, 4], 512, [3072, 3072, 3072], [8, 8, 8], [4, 8, 8], [-1, 1, 1]),
    ("hat-xeon-340.2ms", 46.23, 28.1, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 4, 8, 8, 8, 4], 512, [3072, 3072, 3072, 3072], [8, 8, 8, 4], [4, 8, 8, 8], [-1, 1, 1, -1]),
    ("hat-xeon-369.6ms", 51.48, 28.2, 512, [3072, 3072, 3072, 3072, 3072, 3072], [8, 4, 8, 8, 8, 4], 512, [3072, 3072, 3072, 3072, 3072], [8, 8, 8, 4, 8], [4, 8, 8, 8, 8], [-1, 1, 1, 1, -1]),
    ("hat-xeon-450.9ms", 56.73, 28.5, 512, [3072, 3072, 3072, 3072, 3072, 3072], [4, 4, 8, 8, 8, 4], 512, [3072, 3072, 3072, 3072, 3072, 3072], [8, 8, 8, 4, 4, 4], [4, 8, 8, 8, 8, 8], [-1, 1, 1, 1, -1, -1]),
]


def hat_named_archs() -> dict[str, dict[str, Any]]:
    """Arch mappings of the published SubTransformers, keyed by name."""
    archs = {}
    for name, _params_m, _bleu, enc, enc_ffn, enc_heads, dec, dec_ffn, dec_heads, ende_heads, ende_attn in HAT_SUBTRANSFORMERS:
        archs[name] = dict(
            encoder_embed_dim=enc, encoder_layers=len(enc_ffn), encoder_attn=["softmax"] * len(enc_ffn),
            encoder_heads=enc_heads, encoder_ffn_dim=enc_ffn,
            decoder_embed_dim=dec, decoder_layers=len(dec_ffn), decoder_attn=["softmax"] * len(dec_ffn),
            decoder_heads=dec_heads, decoder_ende_heads=ende_heads, decoder_ende_attn=ende_attn, decoder_ffn_dim=dec_ffn,
        )
    return archs


def hat_published_params_m() -> dict[str, float]:
    return {row[0]: row[1] for row in HAT_SUBTRANSFORMERS}
