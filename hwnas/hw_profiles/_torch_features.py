"""Features of the profiles `hwnas profile measure` wrote before it wrote op-level ones (`torch-ops-v1..3`): one
row per arch from its ops, one per op for their microbenchmark regressors. Read only, so those profiles still price
their space; op classes (`op_class`) are shared with the op-level profiles.

An eager forward pass costs, per op, a fixed dispatch overhead plus work that scales with MACs and with
the elements written; both depend on which kernel runs. A depthwise 5×5 convolution, a 1×1 and a dense
3×3 run different kernels with different overheads and efficiencies, so the arch rows of
`torch-ops-v3` count ops, MACs and output elements per op *class* (kind refined by conv shape,
activation and attention kind). A non-negative linear model over them is then a sum of unit costs
(see `OpCostLinear`). Rows of earlier feature sets keep their layout, so profiles measured with them
still predict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.errors import OutOfDomainError
from hwnas.predictors import KernelLevel

FEATURE_SET = "torch-ops-v3"
#: Feature sets this code reads: v1 (before the conv spaces' kinds were counted), v2 (counts per kind), v3.
READABLE = ("torch-ops-v1", "torch-ops-v2", FEATURE_SET)
OP_KINDS = ("linear", "conv1d", "conv2d", "attention", "layernorm", "groupnorm", "act", "add", "embedding", "param", "pool",
            "batchnorm", "mul", "window_attention")
ATTENTION_KINDS = ("softmax", "cosformer", "relative")  # eager implementations differ in kernel count
ACTIVATIONS = ("relu", "relu6", "gelu", "hswish", "silu", "sigmoid", "swish", "tanh")
CONV_KERNELS = (3, 5, 7)  # kernel sizes with their own class; others share the kind's class


def _op_classes() -> tuple[str, ...]:
    classes: list[str] = []
    for kind in OP_KINDS:
        if kind in ("conv1d", "conv2d"):
            classes += [f"{kind}-dw-k{k}" for k in CONV_KERNELS] + [f"{kind}-dw", f"{kind}-pw"]
            classes += [f"{kind}-k{k}" for k in CONV_KERNELS] + [kind]
        elif kind == "act":
            classes += [f"act-{a}" for a in ACTIVATIONS] + ["act"]
        elif kind == "attention":
            classes += [f"attention-{a}" for a in ATTENTION_KINDS]
        else:
            classes.append(kind)
    return tuple(classes)


OP_CLASSES = _op_classes()
#: Classes split off a coarser one after profiles were calibrated: a profile (a v3 row layout, or an op-level
#: profile) that never measured the finer class prices its ops as the class they refine, as it did when fitted.
REFINED_CLASSES = {"mul-broadcast": "mul"}


def op_class(op: Any) -> str:
    """The v3 class of an op: e.g. `conv2d-dw-k5`, `conv2d-pw`, `conv2d-k3`, `act-hswish`, `attention-softmax`."""
    if op.kind in ("conv1d", "conv2d"):
        k = op["k"]
        size = f"-k{k}" if k in CONV_KERNELS else ""
        if op["groups"] > 1 and op["groups"] == op["cin"]:
            return f"{op.kind}-dw{size}"
        return f"{op.kind}-pw" if k == 1 else f"{op.kind}{size}"
    if op.kind == "act":
        return f"act-{op['act']}" if op["act"] in ACTIVATIONS else "act"
    if op.kind == "attention":
        return f"attention-{op['attn']}"
    if op.kind == "mul" and dict(op.attrs).get("broadcast"):
        return "mul-broadcast"
    return op.kind


def out_numel(op: Any) -> int:
    """Elements an op writes (attention: its score matrix), the memory side of its cost."""
    a = dict(op.attrs)
    if op.kind == "linear":
        return a["n"] * a["cout"]
    if op.kind == "attention":
        return a["n_q"] * a["n_kv"] * a["heads"]
    if op.kind in ("act", "add", "param", "mul", "shuffle"):
        return a["numel"]
    if op.kind in ("layernorm", "embedding"):
        return a["n"] * a["dim"]
    if op.kind == "pool":
        return a["numel_out"]
    if op.kind == "groupnorm":
        return a["channels"] * a["length"]
    if op.kind == "batchnorm":
        return a["channels"] * a["h"] * a["w"]
    if op.kind == "window_attention":
        return a["branches"] * a["windows"] * a["tokens"] * a["tokens"] * a["heads"]
    return op.macs // max(1, op.params)  # convs: output positions × cout ≈ MACs / weights-per-output


def op_features(op: Any) -> list[float]:
    """Physical features of one op for its kind's microbenchmark regressor."""
    return [1.0, float(op.macs), float(op.params), float(out_numel(op))]


def _kernel_ms(ops: Sequence[Any], kernels: KernelLevel | None) -> float:
    if kernels is None:
        return 0.0
    benched = [op for op in ops if op.kind in kernels.models_]
    if not benched:
        return 0.0
    return float(kernels.predict(np.array([op_features(op) for op in benched]), kinds=[op.kind for op in benched]).sum())


def _kind_counts_row(ops: Sequence[Any], kernels: KernelLevel | None, row_kinds: Sequence[str]) -> list[float]:
    """v1/v2: [1, Σ kernel estimate (ms), op count, count per kind in `row_kinds`, count and MACs per
    attention kind, MACs, params, output elements]."""
    counts = dict.fromkeys(row_kinds, 0.0)
    attention = {k: [0.0, 0.0] for k in ATTENTION_KINDS}
    macs = params = outputs = 0.0
    for op in ops:
        if op.kind in counts:
            counts[op.kind] += 1
        if op.kind == "attention" and op["attn"] in attention:
            attention[op["attn"]][0] += 1
            attention[op["attn"]][1] += op.macs
        macs += op.macs
        params += op.params
        outputs += out_numel(op)
    per_attention = [v for pair in attention.values() for v in pair]
    return [1.0, _kernel_ms(ops, kernels), float(len(ops)), *counts.values(), *per_attention, macs, params, outputs]


def _class_row(ops: Sequence[Any], kernels: KernelLevel | None) -> list[float]:
    """v3: [1, Σ kernel estimate (ms), op count, params, then per op class: count, MACs, output elements]."""
    counts, macs, outputs = (dict.fromkeys(OP_CLASSES, 0.0) for _ in range(3))
    params = 0.0
    for op in ops:
        name = op_class(op)
        name = REFINED_CLASSES.get(name, name)
        counts[name] += 1
        macs[name] += op.macs
        outputs[name] += out_numel(op)
        params += op.params
    return [1.0, _kernel_ms(ops, kernels), float(len(ops)), params, *counts.values(), *macs.values(), *outputs.values()]


ROW_KINDS_V1 = ("linear", "attention", "layernorm", "act", "add", "conv1d", "conv2d")
ROW_KINDS = {"torch-ops-v1": ROW_KINDS_V1, "torch-ops-v2": (*ROW_KINDS_V1, "batchnorm", "mul", "window_attention")}


def arch_row(ops: Sequence[Any], kernels: KernelLevel | None, features: str = FEATURE_SET) -> list[float]:
    """The feature row of one arch's ops in feature set `features`."""
    if features == FEATURE_SET:
        return _class_row(ops, kernels)
    return _kind_counts_row(ops, kernels, ROW_KINDS[features])


def ops_feature_rows(space: Any, archs: Sequence[Any], domain: dict[str, Any], kernels: KernelLevel | None = None) -> np.ndarray:
    """Arch-level rows of `domain`'s feature set; ops of kinds outside `OP_KINDS` raise `OutOfDomainError`."""
    shape = tuple(domain.get("input_shape") or space.default_input_shape)
    all_ops = [space.ops(arch, shape) for arch in archs]
    unknown = {op.kind for ops in all_ops for op in ops} - set(OP_KINDS)
    if unknown:
        raise OutOfDomainError(f"op kind {sorted(unknown)[0]!r} is outside the torch-ops features: {', '.join(OP_KINDS)}")
    features = domain.get("features", FEATURE_SET)
    return np.array([arch_row(ops, kernels, features) for ops in all_ops])
