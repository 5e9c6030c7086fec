"""nn-Meter's TFLite block lookup tables (`*_lut_*.json`: block key → measured ms) → a phone profile.

Key formats (one block each; input `hw`×`hw` with `cin` channels, hard-swish activations):
- `firstconv_{hw}_{cin}_{cout}_{stride}_{k}`: the stem convolution;
- `conv_{hw}_{cin}_{cout}_{expand}_{stride}_{act}_{k}_{se|nose}`: an MBConv (1×1 expand, k×k depthwise,
  optional squeeze-excite, 1×1 project);
- `transds_{hw}_{cin}_{cout}_{stride}_{expand}`: a transformer stage's downsampling MBConv (3×3, with SE);
- `transattn_{hw}_{c}_{act}_{v}_{ln|bn}`: multi-head self-attention over hw² tokens, head width 16,
  c/16 heads, value width 16·v, with its norm;
- `transffn_{hw}_{c}_{expand}_{act}_{ln|bn}`: the transformer MLP (c → c·expand → c) with its norm;
- `mbpool_{hw}_{cin}_{cout}_{expand}_{act}`: final 1×1 expansion, global pool and classifier to cout.
Each key becomes physical counts (MACs per conv/matmul, activation and weight traffic) plus its raw
fields, so a regressor per block kind can price blocks the table never measured.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnas.errors import DataFileError

FEATURE_SET = "nnmeter-block-v1"
BLOCK_KINDS = ("firstconv", "conv", "transds", "transattn", "transffn", "mbpool")
KEY_FORMATS = {
    "firstconv": "firstconv_{hw}_{cin}_{cout}_{stride}_{k}",
    "conv": "conv_{hw}_{cin}_{cout}_{expand}_{stride}_{act}_{k}_{se|nose}",
    "transds": "transds_{hw}_{cin}_{cout}_{stride}_{expand}",
    "transattn": "transattn_{hw}_{c}_{act}_{v}_{ln|bn}",
    "transffn": "transffn_{hw}_{c}_{expand}_{act}_{ln|bn}",
    "mbpool": "mbpool_{hw}_{cin}_{cout}_{expand}_{act}",
}


@dataclass(frozen=True)
class Block:
    kind: str
    fields: dict[str, int | str]


def _int(key: str, name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DataFileError(f"block key {key!r}: field {name} = {text!r} is not an integer (format {KEY_FORMATS[key.split('_')[0]]})") from None
    if value <= 0:
        raise DataFileError(f"block key {key!r}: field {name} = {value} must be positive")
    return value


def parse_block_key(key: str) -> Block:
    """A key of the table as a `Block`; unknown kinds and malformed fields raise `DataFileError`."""
    kind, *rest = key.split("_")
    if kind not in KEY_FORMATS:
        raise DataFileError(f"block key {key!r}: kind {kind!r} is not one of {', '.join(BLOCK_KINDS)}")
    # activations such as hard_swish contain '_'; fold them back into one field
    parts: list[str] = []
    for token in rest:
        if parts and parts[-1] == "hard":
            parts[-1] = f"hard_{token}"
        else:
            parts.append(token)
    names = [n.strip("{}") for n in KEY_FORMATS[kind].split("_")[1:]]
    if len(parts) != len(names):
        raise DataFileError(f"block key {key!r}: has {len(parts)} fields, format is {KEY_FORMATS[kind]}")
    fields: dict[str, int | str] = {}
    for name, text in zip(names, parts):
        if name in ("act",):
            fields[name] = text
        elif name in ("se|nose", "ln|bn"):
            allowed = name.split("|")
            if text not in allowed:
                raise DataFileError(f"block key {key!r}: {text!r} must be one of {', '.join(allowed)}")
            fields[allowed[0]] = int(text == allowed[0])
        else:
            fields[name] = _int(key, name, text)
    return Block(kind, fields)


def block_features(block: Block) -> tuple[list[float], list[float]]:
    """(physical counts ≥ 0, raw fields) of a block; the predictor's base reads only the first list."""
    f = block.fields
    if block.kind in ("conv", "transds"):
        hw, cin, cout, exp, s = (int(f[n]) for n in ("hw", "cin", "cout", "expand", "stride"))
        k, se = (int(f["k"]), int(f["se"])) if block.kind == "conv" else (3, 1)
        ho, mid = math.ceil(hw / s), cin * exp
        expand = hw * hw * cin * mid if exp > 1 else 0
        physical = [1, expand, ho * ho * mid * k * k, ho * ho * mid * cout, 2 * mid * (mid // 4) * se,
                    hw * hw * mid * (exp > 1), ho * ho * mid, hw * hw * cin, ho * ho * cout,
                    cin * mid + mid * k * k + mid * cout, ho * ho * mid * se]
        raw = [hw, cin, cout, exp, s, k, se]
    elif block.kind == "transattn":
        hw, c, v = int(f["hw"]), int(f["c"]), int(f["v"])
        n, heads = hw * hw, max(1, c // 16)
        physical = [1, n * c * heads * (32 + 16 * v), n * n * heads * 16, n * n * heads * 16 * v, n * heads * 16 * v * c,
                    n * c, n * n * heads, n * heads * 16 * v, c * heads * (32 + 16 * v) + heads * 16 * v * c]
        raw = [hw, c, v, heads]
    elif block.kind == "transffn":
        hw, c, exp = int(f["hw"]), int(f["c"]), int(f["expand"])
        n = hw * hw
        physical = [1, 2 * n * c * c * exp, n * c * exp, n * c, 2 * c * c * exp]
        raw = [hw, c, exp]
    elif block.kind == "mbpool":
        hw, cin, cout, exp = (int(f[n]) for n in ("hw", "cin", "cout", "expand"))
        n = hw * hw
        physical = [1, n * cin * cin * exp, cin * exp * cout, n * cin * exp, n * cin, cin * cin * exp + cin * exp * cout]
        raw = [hw, cin, cout, exp]
    else:  # firstconv
        hw, cin, cout, s, k = (int(f[n]) for n in ("hw", "cin", "cout", "stride", "k"))
        ho = math.ceil(hw / s)
        physical = [1, ho * ho * cin * cout * k * k, ho * ho * cout, hw * hw * cin]
        raw = [hw, cin, cout, s, k]
    return [float(x) for x in physical], [float(x) for x in raw]


_EXAMPLES = {
    "firstconv": "firstconv_224_3_16_2_3", "conv": "conv_56_16_24_4_2_hard_swish_3_se", "transds": "transds_14_64_96_2_4",
    "transattn": "transattn_7_96_hard_swish_2_ln", "transffn": "transffn_7_96_3_hard_swish_ln",
    "mbpool": "mbpool_4_256_1984_6_hard_swish"}
#: Per block kind: what each physical column counts (MACs, activation/weight elements), for messages.
PHYSICAL_NAMES = {
    "conv": ("block", "expand_macs", "depthwise_macs", "project_macs", "se_macs", "expanded_act", "depthwise_out_act",
             "input_act", "output_act", "weights", "se_act"),
    "transattn": ("block", "qkv_macs", "qk_macs", "av_macs", "out_proj_macs", "input_act", "softmax_elems", "value_act",
                  "weights"),
    "transffn": ("block", "ffn_macs", "hidden_act", "input_act", "weights"),
    "mbpool": ("block", "expand_macs", "fc_macs", "expanded_act", "input_act", "weights"),
    "firstconv": ("block", "macs", "output_act", "input_act"),
}
PHYSICAL_NAMES["transds"] = PHYSICAL_NAMES["conv"]
#: Per block kind: number of physical columns (the unit-cost base reads these) and of all columns.
PHYSICAL_WIDTH = {kind: len(block_features(parse_block_key(key))[0]) for kind, key in _EXAMPLES.items()}
FULL_WIDTH = {kind: sum(map(len, block_features(parse_block_key(key)))) for kind, key in _EXAMPLES.items()}


@dataclass(frozen=True)
class LutData:
    path: Path
    keys: list[str]
    kinds: list[str]
    X: np.ndarray  # rows: physical features then raw fields, zero-padded to one width
    latency_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def block_matrix(keys: list[str]) -> tuple[list[str], np.ndarray]:
    """Kinds and the zero-padded feature matrix of `keys` (raises `DataFileError` on a bad key)."""
    rows, kinds = [], []
    for key in keys:
        block = parse_block_key(key)
        physical, raw = block_features(block)
        rows.append(physical + raw)
        kinds.append(block.kind)
    width = max((len(r) for r in rows), default=0)
    matrix = np.zeros((len(rows), width))
    for i, row in enumerate(rows):
        matrix[i, : len(row)] = row
    return kinds, matrix


def read_nnmeter_lut(path: str | Path) -> LutData:
    """Parse an nn-Meter block LUT JSON ({key: ms}); missing file, bad JSON, bad key, non-number, NaN,
    non-positive latency or an empty table raise `DataFileError` naming the file and key."""
    path = Path(path)
    try:
        table = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(table, dict):
        raise DataFileError(f"{path}: expected a JSON object of block key → latency (ms), got {type(table).__name__}")
    if not table:
        raise DataFileError(f"{path}: no measurements (empty table)")
    keys, values = [], []
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataFileError(f"{path}: key {key!r}: latency {value!r} is not a number")
        if not math.isfinite(value) or value <= 0:
            raise DataFileError(f"{path}: key {key!r}: latency {value!r} must be a positive finite number")
        keys.append(key)
        values.append(float(value))
    try:
        kinds, matrix = block_matrix(keys)
    except DataFileError as exc:
        raise DataFileError(f"{path}: {exc}") from None
    return LutData(path, keys, kinds, matrix, np.asarray(values))
