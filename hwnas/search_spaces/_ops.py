"""`OpSpec`: the operator-level description of a subnet that predictors and cost models consume.

MACs follow fvcore's conventions (one multiply-add is one MAC; norms count 5 per element; element-wise
ops, activations, softmax and embeddings count 0), so `sum(op.macs)` can be checked against a trace of
the real module. A device model calibrated on one space's ops can therefore price another space's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

AttrValue = int | float | str | bool


@dataclass(frozen=True)
class OpSpec:
    """One operator instance with its shape; `key` is a stable string usable in lookup tables."""

    kind: str
    attrs: tuple[tuple[str, AttrValue], ...]
    macs: int
    params: int = 0
    tags: tuple[str, ...] = field(default=(), compare=False)

    def __getitem__(self, name: str) -> AttrValue:
        for key, value in self.attrs:
            if key == name:
                return value
        raise KeyError(f"op {self.kind} has no attribute {name!r}")

    @property
    def key(self) -> str:
        return f"{self.kind}(" + ",".join(f"{k}={v}" for k, v in self.attrs) + ")"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dict(self.attrs), "macs": self.macs, "params": self.params}


def _op(kind: str, macs: int, params: int = 0, **attrs: AttrValue) -> OpSpec:
    return OpSpec(kind, tuple(attrs.items()), int(macs), int(params))


def linear(n: int, cin: int, cout: int, bias: bool = True, tied: bool = False) -> OpSpec:
    """`n` rows (tokens) through a cin→cout dense layer; `tied` weights are counted where they live."""
    params = 0 if tied else cin * cout + (cout if bias else 0)
    return _op("linear", n * cin * cout, params, n=n, cin=cin, cout=cout, bias=bias, tied=tied)


def conv_out_len(length: int, k: int, stride: int, padding: int) -> int:
    return (length + 2 * padding - k) // stride + 1


def conv1d(cin: int, cout: int, k: int, stride: int, length: int, groups: int = 1, padding: int = 0, bias: bool = True) -> OpSpec:
    out = conv_out_len(length, k, stride, padding)
    weights = cout * (cin // groups) * k
    return _op("conv1d", out * weights, weights + (cout if bias else 0),
               cin=cin, cout=cout, k=k, stride=stride, groups=groups, length=length, padding=padding, bias=bias)


def conv2d(cin: int, cout: int, k: int, stride: int, hw: tuple[int, int], groups: int = 1, padding: int = 0, bias: bool = True) -> OpSpec:
    ho, wo = conv_out_len(hw[0], k, stride, padding), conv_out_len(hw[1], k, stride, padding)
    weights = cout * (cin // groups) * k * k
    return _op("conv2d", ho * wo * weights, weights + (cout if bias else 0),
               cin=cin, cout=cout, k=k, stride=stride, groups=groups, h=hw[0], w=hw[1], padding=padding, bias=bias)


def attention(kind: str, n_q: int, n_kv: int, heads: int, head_dim: int, causal: bool = False, rel_range: int = 0) -> OpSpec:
    """The attention core (scores, mixing, normalisation); its q/k/v/out projections are `linear` ops."""
    dim = heads * head_dim
    if kind == "cosformer" and not causal:  # linear: K'ᵀV then Q'(K'ᵀV), features of size 2·head_dim
        macs = 2 * n_kv * dim * head_dim + 2 * n_q * dim * head_dim + 2 * n_q * dim
    elif kind == "cosformer":  # causal: masked re-weighted scores, quadratic but exact
        macs = 2 * n_q * n_kv * dim + n_q * n_kv * dim
    elif kind == "softmax":
        macs = 2 * n_q * n_kv * dim
    elif kind == "relative":  # Shaw et al.: extra q·a(j-i) term with a key table shared by heads
        macs = 3 * n_q * n_kv * dim
    else:
        raise ValueError(f"unknown attention kind {kind!r}; choose cosformer, softmax or relative")
    params = (2 * rel_range + 1) * head_dim if kind == "relative" else 0
    return _op("attention", macs, params, attn=kind, n_q=n_q, n_kv=n_kv, heads=heads, head_dim=head_dim,
               causal=causal, rel_range=rel_range if kind == "relative" else 0)


def layernorm(n: int, dim: int) -> OpSpec:
    return _op("layernorm", 5 * n * dim, 2 * dim, n=n, dim=dim)


def groupnorm(channels: int, groups: int, length: int) -> OpSpec:
    return _op("groupnorm", 5 * channels * length, 2 * channels, channels=channels, groups=groups, length=length)


def act(kind: str, numel: int) -> OpSpec:
    return _op("act", 0, act=kind, numel=numel)


def add(numel: int) -> OpSpec:
    return _op("add", 0, numel=numel)


def embedding(n: int, vocab: int, dim: int, shared: bool = False) -> OpSpec:
    """Token lookup; a `shared` table (already counted by another op) adds no parameters."""
    return _op("embedding", 0, 0 if shared else vocab * dim, n=n, vocab=vocab, dim=dim, shared=shared)


def param(numel: int, name: str) -> OpSpec:
    """A learned tensor added or concatenated (position table, class token, mask embedding)."""
    return _op("param", 0, numel, name=name, numel=numel)


def pool(kind: str, numel_in: int, numel_out: int) -> OpSpec:
    return _op("pool", 0, pool=kind, numel_in=numel_in, numel_out=numel_out)


def batchnorm(channels: int, hw: tuple[int, int]) -> OpSpec:
    """BatchNorm2d in inference: fvcore counts 2 per element (scale and shift, affine)."""
    return _op("batchnorm", 2 * channels * hw[0] * hw[1], 2 * channels, channels=channels, h=hw[0], w=hw[1])


def shuffle(numel: int, groups: int) -> OpSpec:
    """Channel shuffle (ShuffleNet, FBNet's grouped blocks): a permuting copy of `numel` elements."""
    return _op("shuffle", 0, numel=numel, groups=groups)


def mul(numel: int, broadcast: bool = False) -> OpSpec:
    """Element-wise product (SE gating, layer scale applied): no MACs, as in fvcore. `broadcast`: a computed factor
    spread over the other tensor (squeeze-excite's per-channel gate), which a runtime with a blocked layout runs
    outside that layout; a constant factor (layer scale) is a plain product."""
    return _op("mul", 0, numel=numel, **({"broadcast": True} if broadcast else {}))


def window_attention(windows: int, tokens: int, heads: int, qk_dim: int, v_dim: int, branches: int = 1) -> OpSpec:
    """Softmax attention inside `windows` windows of `tokens` tokens each, with value width `v_dim`
    (which may exceed the query/key width `qk_dim`); `branches` window partitions of the same q/k/v are
    attended and summed (EMOv2's close + remote windows). Projections are separate conv/linear ops."""
    macs = branches * windows * tokens * tokens * (qk_dim + v_dim)
    return _op("window_attention", macs, windows=windows, tokens=tokens, heads=heads, qk_dim=qk_dim, v_dim=v_dim,
               branches=branches)


def total_macs(ops: Iterable[OpSpec]) -> int:
    return sum(op.macs for op in ops)


def total_params(ops: Iterable[OpSpec]) -> int:
    return sum(op.params for op in ops)
