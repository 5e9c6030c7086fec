"""Op-level device models (`op-level-v1`): one format that prices the ops of any space on any device.

A subnet's latency is a fixed per-inference overhead plus, over its ops, each op class's unit costs (ms per
op, per MAC, per output element) times the op's counts — a non-negative linear model (`OpCostLinear`), so
every millisecond is attributable to an op class. Op classes are `_torch_features.op_class`'s (a 5×5
depthwise conv, a 1×1 conv, a dense 3×3, `act-hswish`, `attention-cosformer`, ...).

Each op of a subnet is priced by the first of these that applies, and the prediction says which:
- **measured**: its class was in the calibration data and its MACs and output size lie in the measured range;
- **composed**: it is rewritten into measured primitives (`LOWERINGS`: a dense 5×5 conv as a dense 3×3 of the
  same work, cosFormer attention as its matmuls and elementwise passes, window attention as softmax attention
  on windows, an unmeasured activation as one elementwise pass of a measured one, ...), all in range;
- **extrapolated**: its class (or its composition) is measured but the op lies up to `EXTRAPOLATION`× outside
  the measured range;
otherwise it is out of the profile's domain, and `OutOfDomainError` names the op class and why.

Fusion follows the runtime (`domain.fusion`): `eager` (PyTorch eager: every op runs), `deployed` (TFLite,
TensorRT: BatchNorm folds into the conv before it, activations fuse into their conv or linear) or `onnxruntime`
(BatchNorm folds; only the activations every ONNX Runtime CPU conv and GEMM kernel applies in place, ReLU, ReLU6
as Clip and tanh, fuse; hard-swish, sigmoid and GELU are priced as their own ops: version 1.32 folds hard-swish and
sigmoid into a conv whose channels fit its blocked layout too, but pricing them folded scored no better on a kernel
profile's held-out blocks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from hwnas.errors import OutOfDomainError
from hwnas.hw_profiles._torch_features import ACTIVATIONS, REFINED_CLASSES, op_class, out_numel

FEATURE_SET = "op-level-v1"
FUSIONS = ("eager", "deployed", "onnxruntime")
#: Activations ONNX Runtime applies inside the conv or GEMM kernel that feeds them (see the module docstring).
ORT_FOLDED = frozenset({"relu", "relu6", "tanh"})
PROVENANCE = ("measured", "composed", "extrapolated")
#: How far above a class's measured per-op range (MACs, output elements) its unit costs may price. Unit costs
#: fitted on FBNet's 32×32 subnets price OFA's 224×224 ones, whose ops are up to 18× larger, with Spearman
#: 0.77–0.98 against the measured latencies on the same GPU (`benchmarks/coverage.py`, check b).
EXTRAPOLATION = 20.0
#: Blocks a domain finds by identity before it starts that table over (shared specs make them few).
IDENTITY_MAX = 50_000
OVERHEAD = "overhead"  # the per-inference constant: framework dispatch, input copy, synchronisation

#: An op's share of a class's features: (class, op count, MACs, output elements).
Part = tuple[str, float, float, float]


def out_elements(op: Any) -> int:
    """Elements an op writes (attention: its score matrix); a conv writes positions × output channels."""
    if op.kind in ("conv1d", "conv2d"):
        taps = op["k"] ** (2 if op.kind == "conv2d" else 1) * op["cin"] // op["groups"]
        return op.macs // max(1, taps)
    return out_numel(op)


def _conv_classes(kind: str) -> dict[str, list[str]]:
    """Conv classes of `kind` → the classes each may be composed as (same MACs and outputs, another kernel)."""
    dense = [f"{kind}-k3", f"{kind}-k5", f"{kind}-k7", kind]
    depthwise = [f"{kind}-dw-k3", f"{kind}-dw-k5", f"{kind}-dw-k7", f"{kind}-dw"]
    rules = {c: [d for d in dense if d != c] + [f"{kind}-pw"] for c in dense}
    rules.update({c: [d for d in depthwise if d != c] for c in depthwise})
    rules[f"{kind}-pw"] = ["linear"] if kind == "conv2d" else ["conv2d-pw"]
    if kind == "conv1d":  # a 1-D conv is a 2-D conv of height 1
        for c in list(rules):
            rules[c] = [c.replace("conv1d", "conv2d")] + rules[c]
    return rules


SAME_WORK: dict[str, list[str]] = {
    **_conv_classes("conv2d"), **_conv_classes("conv1d"),
    "linear": ["conv2d-pw"],
    "layernorm": ["groupnorm", "batchnorm"], "groupnorm": ["layernorm", "batchnorm"], "batchnorm": ["layernorm", "groupnorm"],
    "mul": ["add"], "add": ["mul"], "mul-broadcast": ["mul", "add"],
    **{f"act-{a}": [f"act-{b}" for b in ACTIVATIONS if b != a] + ["act"] for a in ACTIVATIONS},
    "act": [f"act-{b}" for b in ACTIVATIONS],
}


def _attention_parts(op: Any) -> list[Part]:
    """Softmax attention (also relative): scores and mixing matmuls, then the softmax's elementwise pass."""
    a = dict(op.attrs)
    scores = a["n_q"] * a["n_kv"] * a["heads"]
    mixed = a["n_q"] * a["heads"] * a["head_dim"]
    return [("linear", 2.0, float(op.macs), float(scores + mixed)), ("act", 1.0, 0.0, float(scores))]


def _cosformer_parts(op: Any) -> list[Part]:
    """cosFormer: ReLU feature maps of q and k, cos/sin re-weighting, kᵀv and q(kᵀv) matmuls for both, the normaliser
    (causal: re-weighted, masked scores, as softmax attention's matmuls plus the re-weighting)."""
    a = dict(op.attrs)
    if a["causal"]:
        scores = a["n_q"] * a["n_kv"] * a["heads"]
        return _attention_parts(op) + [("mul", 2.0, 0.0, float(2 * scores))]
    dim = a["heads"] * a["head_dim"]
    q, k = a["n_q"] * dim, a["n_kv"] * dim
    kv = 2 * a["heads"] * a["head_dim"] * a["head_dim"]
    return [("act-relu", 2.0, 0.0, float(q + k)), ("mul", 4.0, 0.0, float(2 * (q + k))),
            ("linear", 4.0, float(op.macs), float(kv + 2 * q)), ("add", 2.0, 0.0, float(2 * q))]


def _window_parts(op: Any) -> list[Part]:
    """Window attention: softmax attention inside every window (per branch)."""
    a = dict(op.attrs)
    b = a["branches"]
    scores = b * a["windows"] * a["tokens"] * a["tokens"] * a["heads"]
    mixed = b * a["windows"] * a["tokens"] * a["v_dim"]
    return [("linear", 2.0 * b, float(op.macs), float(scores + mixed)), ("act", float(b), 0.0, float(scores)),
            ("add", float(b - 1), 0.0, float(mixed))]


#: Op class → how an op of it is composed of other classes' work, when its own class is not measured.
LOWERINGS: dict[str, Callable[[Any], list[Part]]] = {
    "attention-softmax": _attention_parts,
    "attention-relative": _attention_parts,  # its relative-position term is part of the scores matmul's MACs
    "attention-cosformer": _cosformer_parts,
    "window_attention": _window_parts,
    "shuffle": lambda op: [("add", 1.0, 0.0, float(dict(op.attrs)["numel"]))],  # a permuting copy: one memory pass
    "pool": lambda op: [("add", 1.0, 0.0, float(dict(op.attrs)["numel_in"]))],
    "embedding": lambda op: [("add", 1.0, 0.0, float(out_numel(op)))],
    "param": lambda op: [],  # a stored tensor read by the op that uses it: no work of its own
}
#: Where no norm or activation of any kind was measured (a deployed runtime folds them into convs), an
#: activation is one elementwise pass and a norm two (statistics, then scale and shift).
PASSES = {**{norm: 2.0 for norm in ("batchnorm", "layernorm", "groupnorm")}, **{f"act-{a}": 1.0 for a in ACTIVATIONS}, "act": 1.0}


def _folds(act: str, fusion: str) -> bool:
    """Whether `fusion`'s conv and linear kernels apply activation `act` in place."""
    return act in ORT_FOLDED if fusion == "onnxruntime" else act != "sigmoid"


def fused(ops: Sequence[Any], fusion: str) -> list[Any]:
    """The ops a runtime executes: all of them eagerly; deployed, BatchNorm and activations fold into the conv
    (or linear) that feeds them (in ONNX Runtime only the activations its kernels apply, `ORT_FOLDED`)."""
    if fusion == "eager":
        return list(ops)
    result: list[Any] = []
    for op in ops:
        previous = result[-1].kind if result else None
        if op.kind == "batchnorm" and previous in ("conv2d", "conv1d"):
            continue
        if op.kind == "act" and previous in ("conv2d", "conv1d", "linear") and _folds(op["act"], fusion):
            continue
        result.append(op)
    return result


@dataclass(frozen=True)
class ClassRange:
    """The per-op MACs and output elements a class was measured at."""

    macs: tuple[float, float]
    out: tuple[float, float]

    def where(self, macs: float, out: float) -> str | None:
        """None inside the measured range; `extrapolated` below it (the per-op cost floors a smaller op's) or up
        to `EXTRAPOLATION`× above it; `outside` beyond that."""
        pairs = [(v, lo, hi) for v, (lo, hi) in ((macs, self.macs), (out, self.out)) if hi > 0 or v > 0]
        if all(lo <= v <= hi for v, lo, hi in pairs):
            return None
        return "extrapolated" if all(v <= hi * EXTRAPOLATION for v, _, hi in pairs) else "outside"


@dataclass(frozen=True)
class PricedOp:
    """One op resolved onto measured classes: its parts and how they were priced."""

    op_class: str
    parts: tuple[Part, ...]
    provenance: str


def _worst(*provenances: str) -> str:
    return max(provenances, key=PROVENANCE.index)


class OpLevelDomain:
    """What an op-level profile measured: its classes (column order of the model) and their ranges."""

    def __init__(self, classes: dict[str, ClassRange], fusion: str, device: str) -> None:
        self.classes, self.fusion, self.device = classes, fusion, device
        self.columns = list(classes)
        self._index = {name: 1 + 3 * i for i, name in enumerate(self.columns)}
        self._cache: dict[Any, PricedOp] = {}
        self._blocks: dict[Any, int] = {}
        #: Block row by the id of a block seen before, and that block, held so no other object takes its id while the
        #: entry lives: a shared spec (`BlockSpec`) is found without hashing its fields.
        self._index_by_id: dict[int, int] = {}
        self._held: dict[int, Any] = {}
        self._block_list: list[np.ndarray] = []  # per block: its row and unmeasured part, stacked
        self._block_rows: np.ndarray | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_dict(cls, domain: dict[str, Any], device: str) -> OpLevelDomain:
        classes = {name: ClassRange(tuple(r["macs"]), tuple(r["out"])) for name, r in domain["op_classes"].items()}  # type: ignore[arg-type]
        return cls(classes, str(domain.get("fusion", "eager")), device)

    # -- resolving one op --------------------------------------------------------------------------
    def _place(self, part: Part, extrapolate: bool, depth: int = 0) -> tuple[list[Part], str] | None:
        """`part` on measured classes: as itself (measured), as the same work of another class (composed), or,
        with `extrapolate`, outside a range within the bound (extrapolated); None if none applies."""
        name, count, macs, out = part
        own = self.classes[name].where(macs / max(count, 1.0), out / max(count, 1.0)) if name in self.classes else "outside"
        if own is None:
            return [part], "measured"
        alternatives = [(a, count, macs, out) for a in SAME_WORK.get(name, [])] if depth < 3 else []
        if name in PASSES and depth < 3:
            alternatives.append(("add", count * PASSES[name], 0.0, out * PASSES[name]))
        for alternative in alternatives:
            placed = self._place(alternative, False, depth + 1)
            if placed is not None:
                return placed[0], "composed"
        if extrapolate and own == "extrapolated":
            return [part], "extrapolated"
        if extrapolate:
            for alternative in alternatives:
                placed = self._place(alternative, True, depth + 1)
                if placed is not None:
                    return placed[0], "extrapolated"
        return None

    def _place_all(self, parts: Sequence[Part], extrapolate: bool) -> tuple[list[Part], str] | None:
        result: list[Part] = []
        worst = "composed"
        for part in parts:
            placed = self._place(part, extrapolate)
            if placed is None:
                return None
            result += placed[0]
            worst = _worst(worst, "composed" if placed[1] == "measured" else placed[1])
        return result, worst

    def resolve(self, op: Any) -> PricedOp:
        """How `op` is priced (see the module docstring); raises `OutOfDomainError` naming its class."""
        cached = self._cache.get(op)
        if cached is not None:
            return cached
        name = op_class(op)
        if name not in self.classes and name in REFINED_CLASSES:  # priced as when the profile was fitted
            name = REFINED_CLASSES[name]
        own: Part = (name, 1.0, float(op.macs), float(out_elements(op)))
        lowered = LOWERINGS[name](op) if name in LOWERINGS else None
        for extrapolate in (False, True):
            placed = self._place(own, extrapolate)
            if placed is None and lowered is not None:
                placed = self._place_all(lowered, extrapolate)
            if placed is not None:
                priced = self._cache[op] = PricedOp(name, tuple(placed[0]), placed[1])
                return priced
        raise OutOfDomainError(self._why(name, own))

    def _why(self, name: str, own: Part) -> str:
        if name in self.classes:
            r = self.classes[name]
            _, _, macs, out = own
            return (f"op class {name!r} at {macs:,.0f} MACs / {out:,.0f} outputs is more than {EXTRAPOLATION:g}× above the "
                    f"range profile {self.device!r} measured (MACs {r.macs[0]:,.0f}–{r.macs[1]:,.0f}, outputs "
                    f"{r.out[0]:,.0f}–{r.out[1]:,.0f}), and no composition of measured classes covers it")
        return (f"op class {name!r} has no basis in profile {self.device!r}: it was not measured and cannot be composed "
                f"within {EXTRAPOLATION:g}× of the classes it measured ({', '.join(self.columns)})")

    # -- rows ---------------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return 1 + 3 * len(self.columns)

    def row(self, ops: Sequence[Any], overhead: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """The model's feature row of one subnet's ops ([overhead, then count, MACs, outputs per class]) and the part
        of it from ops not measured (composed or extrapolated)."""
        row, unmeasured = [0.0] * self.width, [0.0] * self.width  # Python floats: a decode step's ops are many and small
        row[0] = overhead
        for op in fused(ops, self.fusion):
            priced = self.resolve(op)
            target = (row,) if priced.provenance == "measured" else (row, unmeasured)
            for name, count, macs, out in priced.parts:
                j = self._index[name]
                for vector in target:
                    vector[j] += count
                    vector[j + 1] += macs
                    vector[j + 2] += out
        return np.array(row), np.array(unmeasured)

    def _block_index(self, block: Any) -> int:
        """The row of `block` in `_block_rows` (its share computed once: fusion stays inside a block, as a block's
        ops start after its input is written)."""
        index = self._index_by_id.get(id(block))
        if index is not None:
            return index
        index = self._blocks.get(block)
        if index is None:
            row, unmeasured = self.row(block.ops(), overhead=0.0)
            index = self._blocks[block] = len(self._block_list)
            self._block_list.append(np.stack([row, unmeasured]))
            self._block_rows = None
        if len(self._held) >= IDENTITY_MAX:
            self._held.clear()
            self._index_by_id.clear()
        self._held[id(block)], self._index_by_id[id(block)] = block, index
        return index

    def blocks_rows(self, block_lists: Sequence[Sequence[Any]], overhead: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """`row` of each subnet given as block specs (its rows, and their unmeasured parts): each distinct block's
        share once, then one sparse sum per subnet."""
        from scipy.sparse import csr_matrix  # heavy (0.2 s): only pricing needs it

        block_lists = block_lists if isinstance(block_lists, list) else list(block_lists)  # read three times below
        with self._lock:  # search workers price in threads: indices and the stacked rows must agree
            # the common case, blocks seen before, at C speed
            indices = list(map(self._index_by_id.get, map(id, chain.from_iterable(block_lists))))
            if None in indices:
                indices = [self._block_index(block) if index is None else index
                           for index, block in zip(indices, chain.from_iterable(block_lists))]
            if self._block_rows is None:
                self._block_rows = np.stack(self._block_list) if self._block_list else np.zeros((0, 2, self.width))
            block_rows = self._block_rows
        counts = list(map(len, block_lists))
        starts = np.concatenate([[0], np.cumsum(counts)])
        members = csr_matrix((np.ones(len(indices)), np.asarray(indices, dtype=np.int64), starts),
                             shape=(len(block_lists), len(block_rows)))
        rows, unmeasured = members @ block_rows[:, 0], members @ block_rows[:, 1]
        rows[:, 0] += overhead
        return np.asarray(rows), np.asarray(unmeasured)

    def blocks_row(self, blocks: Sequence[Any], overhead: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """`row` of one subnet given as block specs."""
        rows, unmeasured = self.blocks_rows([blocks], overhead)
        return rows[0], unmeasured[0]


@dataclass(frozen=True)
class OpsBlock:
    """Measured ops as they were given (a block of a phone's table, a kernel): priced as one block."""

    op_list: tuple[Any, ...]

    def ops(self) -> list[Any]:
        return list(self.op_list)


def calibration_domain(all_ops: Sequence[Sequence[Any]], fusion: str) -> dict[str, Any]:
    """The `op_classes` of a profile fitted on these subnets' ops: every class they hold, with its per-op ranges."""
    seen: dict[str, list[list[float]]] = {}
    for ops in all_ops:
        for op in fused(ops, fusion):
            entry = seen.setdefault(op_class(op), [[np.inf, -np.inf], [np.inf, -np.inf]])
            for bounds, value in zip(entry, (float(op.macs), float(out_elements(op)))):
                bounds[0], bounds[1] = min(bounds[0], value), max(bounds[1], value)
    return {name: {"macs": bounds[0], "out": bounds[1]} for name, bounds in sorted(seen.items())}


def unit_costs(model: Any, columns: Sequence[str]) -> tuple[float, dict[str, tuple[float, float, float]]]:
    """(overhead ms, per class: ms per op, per MAC, per output element) of a fitted `OpCostLinear`."""
    unit = model.coef_ / model.scale_ * model.gain_
    return float(unit[0]), {name: (float(unit[1 + 3 * i]), float(unit[2 + 3 * i]), float(unit[3 + 3 * i]))
                            for i, name in enumerate(columns)}
