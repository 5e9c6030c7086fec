"""HAT's latency datasets (`*.csv` of measured SubTransformers) → a profile for the `hat-wmt14-en-de` preset.

Each CSV row holds HAT's ten arch features (per-layer choices averaged over active layers) and the
measured mean encoder and decoder latency (ms). HAT's measurement: the encoder runs once on 30 source
tokens; the decoder runs 30 incremental steps with beam 5, each step ending in the vocabulary
projection; batch 1; qkv width fixed at 512.

Averaged columns defeat a flexible model (many archs share one row), but every MAC and byte count of a
layer is linear in its per-layer choices, so *sums* over layers are exact functions of the averages:
`hat_op_features` turns a row into the MACs, weight traffic, activation traffic and kernel counts of
each part (encoder, decoder), and the predictor learns a non-negative cost per unit of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnas.errors import DataFileError
from hwnas.hw_profiles._csv import csv_records, positive

HAT_COLUMNS = (
    "encoder_embed_dim", "encoder_layer_num", "encoder_ffn_embed_dim_avg", "encoder_self_attention_heads_avg",
    "decoder_embed_dim", "decoder_layer_num", "decoder_ffn_embed_dim_avg", "decoder_self_attention_heads_avg",
    "decoder_ende_attention_heads_avg", "decoder_arbitrary_ende_attn_avg",
)
LATENCY_COLUMNS = ("latency_mean_encoder", "latency_mean_decoder")
FEATURE_SET = "hat-ops-v1"
#: HAT's measurement setup; stored in every profile's domain so predictions use the same one.
HAT_SETUP = {"src_tokens": 30, "decode_steps": 30, "beam": 5, "qkv_dim": 512}
PARTS = ("encoder", "decoder")


@dataclass(frozen=True)
class HatData:
    """Rows of a HAT CSV: `features` (n × 10, HAT_COLUMNS order) and measured ms per part."""

    path: Path
    features: np.ndarray
    encoder_ms: np.ndarray
    decoder_ms: np.ndarray

    @property
    def total_ms(self) -> np.ndarray:
        return self.encoder_ms + self.decoder_ms

    def __len__(self) -> int:
        return int(self.features.shape[0])


def read_hat_csv(path: str | Path) -> HatData:
    """Parse a HAT latency CSV; a missing file, missing column, non-number, NaN, non-positive latency or
    no rows raises `DataFileError` naming the file, row and column."""
    path = Path(path)
    with csv_records(path) as reader:
        header = reader.fieldnames or []
        missing = [c for c in HAT_COLUMNS + LATENCY_COLUMNS if c not in header]
        if missing:
            raise DataFileError(f"{path}: column {missing[0]!r} is missing; a HAT latency CSV has columns "
                                f"{', '.join(HAT_COLUMNS + LATENCY_COLUMNS)}")
        rows = [[positive(record.get(column), f"{path}: line {line}, column {column!r}") for column in HAT_COLUMNS + LATENCY_COLUMNS]
                for line, record in enumerate(reader, start=2)]
    if not rows:
        raise DataFileError(f"{path}: no measurements (the CSV has a header but no rows)")
    table = np.asarray(rows, dtype=np.float64)
    n = len(HAT_COLUMNS)
    return HatData(path, table[:, :n], table[:, n], table[:, n + 1])


def hat_op_features(features: np.ndarray, setup: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Per part, a matrix whose first columns are physical counts (MACs, weight and activation traffic,
    kernel launches; all ≥ 0) and whose last ten are HAT's raw columns (for a learned correction).

    `features` is n × 10 in `HAT_COLUMNS` order. The base widths are `PHYSICAL_WIDTH[part]`.
    """
    s = {**HAT_SETUP, **(setup or {})}
    n, steps, beam, q = s["src_tokens"], s["decode_steps"], s["beam"], s["qkv_dim"]
    f = np.asarray(features, dtype=np.float64)
    e, le, fe, he, d, ld, fd, hd, hx, mem = (f[:, i] for i in range(10))
    one = np.ones_like(e)
    encoder = np.stack([
        one,
        le * n * 4 * e * q,            # q/k/v/out projections
        le * 2 * n * n * q,            # attention scores and mixing
        le * n * 2 * e * fe,           # feed-forward
        le * (4 * e * q + 2 * e * fe),  # weights read once
        le * n * (e + q + fe),         # activations written per layer
        le,                            # kernel launches per layer
        le * he,                       # per-head work (reshapes, softmax rows)
    ], axis=1)
    tokens = steps * beam
    decoder = np.stack([
        one,
        tokens * ld * 4 * d * q,                   # self-attention projections
        ld * beam * q * steps * (steps + 1),       # self-attention over the growing cache
        tokens * ld * 2 * d * q,                   # cross-attention query/out projections
        beam * ld * mem * n * 2 * e * q,           # cross-attention keys/values of the attended encoder layers
        tokens * ld * 2 * n * mem * q,             # cross-attention scores and mixing
        tokens * ld * 2 * d * fd,                  # feed-forward
        tokens * d,                                # vocabulary projection (vocab size folds into its cost)
        steps * ld * (6 * d * q + 2 * d * fd),     # layer weights read every step
        steps * d,                                 # vocabulary table read every step
        steps * ld,                                # kernel launches per layer and step
        steps * ld * (hd + hx),                    # per-head work
        steps * ld * mem,                          # per attended encoder layer
    ], axis=1)
    return {"encoder": np.concatenate([encoder, f], axis=1), "decoder": np.concatenate([decoder, f], axis=1)}


PHYSICAL_WIDTH = {"encoder": 8, "decoder": 13}


#: Averaged columns of one per-layer quantity share a range: a value seen in any layer is in the domain
#: (six encoder layers rarely all pick 8 heads, so the encoder's average alone would understate it).
SHARED_RANGES = (
    ("encoder_ffn_embed_dim_avg", "decoder_ffn_embed_dim_avg"),
    ("encoder_self_attention_heads_avg", "decoder_self_attention_heads_avg", "decoder_ende_attention_heads_avg"),
)


def column_ranges(features: np.ndarray) -> dict[str, list[float]]:
    """[min, max] of each HAT column: the shape domain of a profile calibrated on these rows."""
    ranges = {c: [float(features[:, i].min()), float(features[:, i].max())] for i, c in enumerate(HAT_COLUMNS)}
    for group in SHARED_RANGES:
        low, high = min(ranges[c][0] for c in group), max(ranges[c][1] for c in group)
        for c in group:
            ranges[c] = [low, high]
    return ranges


def hat_rows_from_archs(archs: Sequence) -> np.ndarray:  # noqa: ANN001 - Arch mappings
    """HAT's ten columns of each arch of `hat-wmt14-en-de` (as `hat_latency_features`, vectorised for speed)."""
    out = np.empty((len(archs), len(HAT_COLUMNS)))
    for i, a in enumerate(archs):
        ef, eh, df, dh, xh, xa = (a["encoder_ffn_dim"], a["encoder_heads"], a["decoder_ffn_dim"], a["decoder_heads"],
                                  a["decoder_ende_heads"], a["decoder_ende_attn"])
        ne, nd = len(ef), len(df)
        # attended encoder layers: -1 → 1, v → v + 1
        out[i] = (a["encoder_embed_dim"], ne, sum(ef) / ne, sum(eh) / ne, a["decoder_embed_dim"], nd, sum(df) / nd,
                  sum(dh) / nd, sum(xh) / nd, (sum(xa) + nd + xa.count(-1)) / nd)
    return out
