"""HAT's latency datasets (`*.csv` of measured SubTransformers) as subnets of `hat-wmt14-en-de` and the ops they ran.

Each CSV row holds HAT's ten arch features (per-layer choices averaged over active layers) and the measured
mean encoder and decoder latency (ms). HAT's measurement (its `latency_dataset.py`): batch 1; the encoder runs
once on a dummy sentence (30 tokens for WMT, 23 for IWSLT); the decoder then runs that many incremental steps
for 5 hypotheses (beam 5), keys and values cached, each step ending in the vocabulary projection.

Averaged columns do not say which layer had which width, but every op count and MAC of a subnet, and every
output element but one kind, is a sum over its layers of one choice at a time, so the sums are exact functions of
the averages. So each row becomes one arch whose per-layer choices have exactly those sums (`hat_archs`); its ops
(the space's decode, `latency_blocks`, at the file's sentence length and vocabulary) are what the row timed, and an
op-level profile is fitted on them like any other measured subnets. The one kind: the cross-attention's score
elements (its heads × the encoder layers it attends, per layer), whose pairing the averages do not say; `hat_archs`
pairs the larger with the larger, which moves a prediction on HAT's devices by at most 0.2 %.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import DataFileError
from hwnas.hw_profiles._csv import csv_records, positive
from hwnas.search_spaces import Arch, get_space

HAT_COLUMNS = (
    "encoder_embed_dim", "encoder_layer_num", "encoder_ffn_embed_dim_avg", "encoder_self_attention_heads_avg",
    "decoder_embed_dim", "decoder_layer_num", "decoder_ffn_embed_dim_avg", "decoder_self_attention_heads_avg",
    "decoder_ende_attention_heads_avg", "decoder_arbitrary_ende_attn_avg",
)
LATENCY_COLUMNS = ("latency_mean_encoder", "latency_mean_decoder")


@dataclass(frozen=True)
class HatSetup:
    """What HAT's script ran for one task: the dummy sentence's length (= decode steps), the beam, and the target
    vocabulary (None: the preset's, WMT'14's 32,768 shared tokens)."""

    task: str
    sentence: int
    beam: int = 5
    vocab: int | None = None

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.sentence, self.sentence)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "src_tokens": self.sentence, "decode_steps": self.sentence, "beam": self.beam,
                **({"target_vocab": self.vocab} if self.vocab else {})}


#: HAT's tasks (file names start with them). IWSLT'14 De-En: fairseq's dictionaries of 8,848 German and 6,632
#: English types, embeddings not shared, so the output projection is 6,632 wide.
SETUPS = {"wmt14ende": HatSetup("wmt14ende", 30), "iwslt14deen": HatSetup("iwslt14deen", 23, vocab=6632)}
ASSUMED = "wmt14ende (assumed: the file name does not start with a HAT task, wmt14ende or iwslt14deen)"


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

    @property
    def setup(self) -> HatSetup:
        """The task's setup, from HAT's file name (`wmt14ende_cpu_xeon_all.csv`); for other names WMT'14's, which the
        profile's provenance then records as assumed."""
        match = re.match(r"[a-z0-9]+", self.path.stem)
        task = match.group(0) if match else ""
        return SETUPS[task] if task in SETUPS else replace(SETUPS["wmt14ende"], task=ASSUMED)

    def __len__(self) -> int:
        return int(self.features.shape[0])


def guess_device(path: Path) -> dict[str, str]:
    """Device and kind from HAT's file names (`wmt14ende_cpu_xeon_all.csv`), when they follow them."""
    match = re.match(r"(?P<task>[a-z0-9]+)_(?P<kind>cpu|gpu)_(?P<device>[a-z0-9]+)", path.stem)
    return match.groupdict() if match else {}


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


def hat_space(setup: HatSetup) -> Any:
    """`hat-wmt14-en-de` with softmax attention (what HAT measured) and the setup's vocabulary."""
    return get_space("mixed-attention", "hat-wmt14-en-de", attention=["softmax"], vocab_size=setup.vocab)


def _with_sum(choices: tuple[int, ...], n: int, total: int) -> tuple[int, ...] | None:
    """`n` values from `choices` (descending) adding up to `total`, or None."""
    @cache
    def pick(k: int, rest: int) -> tuple[int, ...] | None:
        if k == 0:
            return () if rest == 0 else None
        for value in choices:
            if choices[-1] * (k - 1) <= rest - value <= choices[0] * (k - 1):
                tail = pick(k - 1, rest - value)
                if tail is not None:
                    return (value, *tail)
        return None

    return pick(n, total)


def _per_layer(path: Path, line: int, column: str, average: float, layers: int, choices: list[int]) -> tuple[int, ...]:
    total = average * layers
    values = _with_sum(tuple(sorted(choices, reverse=True)), layers, round(total)) if abs(total - round(total)) < 1e-6 else None
    if values is None:
        raise DataFileError(f"{path}: line {line}, column {column!r}: an average of {average:g} over {layers} layers is not "
                            f"reachable with the per-layer choices {choices}")
    return values


def hat_archs(data: HatData, space: Any) -> list[Arch]:
    """One arch of `space` (`hat-wmt14-en-de`) per row whose per-layer sums equal the row's averages × layers;
    a row no arch of the space reaches raises `DataFileError` naming its line and column."""
    c = space.config
    memory_to_ende = {1: -1, 2: 1, 3: 2}  # HAT averages the number of encoder layers attended
    archs = []
    for i, row in enumerate(data.features):
        line = i + 2
        ee, le, fe, he, de, ld, fd, hd, hx, mem = row
        for column, layers_ in ((1, le), (5, ld)):
            if layers_ != int(layers_):
                raise DataFileError(f"{data.path}: line {line}, column {HAT_COLUMNS[column]!r}: {layers_:g} layers "
                                    "is not a whole number")
        le, ld = int(le), int(ld)

        def layers(column: int, n: int, choices: list[int], r: np.ndarray = row, line: int = line) -> list[int]:
            return list(_per_layer(data.path, line, HAT_COLUMNS[column], float(r[column]), n, choices))

        memory = layers(9, ld, [1, 2, 3])
        arch = {
            "encoder_embed_dim": int(ee), "encoder_layers": le, "encoder_attn": ["softmax"] * le,
            "encoder_heads": layers(3, le, c["heads"]), "encoder_ffn_dim": layers(2, le, c["ffn_dim"]),
            "decoder_embed_dim": int(de), "decoder_layers": ld, "decoder_attn": ["softmax"] * ld,
            "decoder_heads": layers(7, ld, c["heads"]), "decoder_ende_heads": layers(8, ld, c["heads"]),
            "decoder_ende_attn": [memory_to_ende[m] for m in memory], "decoder_ffn_dim": layers(6, ld, c["ffn_dim"]),
        }
        try:
            archs.append(space.validate(arch))
        except Exception as exc:  # noqa: BLE001 - InvalidArchError and friends: the row is outside the space
            raise DataFileError(f"{data.path}: line {line} is not a subnet of {space.label}: {exc}") from None
    return archs
