"""nn-Meter's table blocks as ops, so a phone's block table also calibrates an op-level model.

Each key's block is written out as the `OpSpec`s it runs (as `_nnmeter.block_features` counts it): an MBConv's
1×1 expansion, k×k depthwise, squeeze-excite and projection; a transformer block's norm, q/k/v projections
(head width 16, values 16·v wide), attention, output projection and residual; the MLP; the stem; the
pooled head. Fitting unit costs on the 12k measured blocks of a phone (deployed fusion: TFLite folds
BatchNorm and activations into convs) lets the phone price spaces whose blocks do not map onto the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from hwnas.hw_profiles._nnmeter import Block
from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._conv_specs import conv_ops, se_ops
from hwnas.search_spaces._ops import OpSpec

ACTIVATIONS = {"hard_swish": "hswish", "relu": "relu", "relu6": "relu6", "swish": "swish", "gelu": "gelu"}


def _act(block: Block) -> str:
    return ACTIVATIONS.get(str(block.fields.get("act", "hard_swish")), "hswish")


def _mbconv(hw: int, cin: int, cout: int, expand: int, stride: int, k: int, se: bool, act: str) -> list[OpSpec]:
    mid, size = cin * expand, (hw, hw)
    result = conv_ops(cin, mid, 1, 1, size, act)[0] if expand > 1 else []
    dw, out = conv_ops(mid, mid, k, stride, size, act, groups=mid)
    result += dw + se_ops(mid, 0.25 if se else 0.0, out, act) + conv_ops(mid, cout, 1, 1, out, "identity")[0]
    return result + ([ops.add(cout * out[0] * out[1])] if stride == 1 and cin == cout else [])


def _norm(ln: bool, n: int, hw: int, c: int) -> OpSpec:
    return ops.layernorm(n, c) if ln else ops.batchnorm(c, (hw, hw))


def block_ops(block: Block) -> list[OpSpec]:
    """The ops of one table block (batch 1)."""
    f, kind = block.fields, block.kind
    if kind in ("conv", "transds"):
        k, se = (int(f["k"]), bool(f["se"])) if kind == "conv" else (3, True)
        return _mbconv(int(f["hw"]), int(f["cin"]), int(f["cout"]), int(f["expand"]), int(f["stride"]), k, se, _act(block))
    if kind == "transattn":
        hw, c, v = int(f["hw"]), int(f["c"]), int(f["v"])
        n, heads = hw * hw, max(1, c // 16)
        qk, value = 16 * heads, 16 * v * heads
        return [_norm(bool(f["ln"]), n, hw, c), ops.linear(n, c, qk), ops.linear(n, c, qk), ops.linear(n, c, value),
                ops.act(_act(block), n * value), ops.window_attention(1, n, heads, qk, value), ops.linear(n, value, c),
                ops.add(n * c)]
    if kind == "transffn":
        hw, c, e = int(f["hw"]), int(f["c"]), int(f["expand"])
        n = hw * hw
        return [_norm(bool(f["ln"]), n, hw, c), ops.linear(n, c, c * e), ops.act(_act(block), n * c * e), ops.linear(n, c * e, c),
                ops.add(n * c)]
    if kind == "mbpool":
        hw, cin, cout, e = (int(f[name]) for name in ("hw", "cin", "cout", "expand"))
        mid = cin * e
        return conv_ops(cin, mid, 1, 1, (hw, hw), _act(block))[0] + [ops.pool("mean", hw * hw * mid, mid), ops.linear(1, mid, cout)]
    hw, cin, cout, stride, k = (int(f[name]) for name in ("hw", "cin", "cout", "stride", "k"))  # firstconv
    return conv_ops(cin, cout, k, stride, (hw, hw), "hswish")[0]


def block_macs(blocks: Sequence[Block]) -> list[int]:
    """MACs of each block's ops (checked against `block_features`' counts by the tests)."""
    return [sum(op.macs for op in block_ops(b)) for b in blocks]


__all__ = ["block_macs", "block_ops"]
