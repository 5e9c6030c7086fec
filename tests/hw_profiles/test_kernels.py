"""Kernel profiles' fit: kernels timed alone and blocks timed whole, one fit of in-graph costs and alone costs."""

from __future__ import annotations

import random

import numpy as np
import pytest

from hwnas.hw_profiles import get_profile
from hwnas.hw_profiles._calibrate_op_level import family
from hwnas.hw_profiles._kernels import FAMILIES, fit_kernel_profile
from hwnas.hw_profiles._op_level import OpLevelDomain, calibration_domain, unit_costs
from hwnas.hw_profiles._predict import explain_ops
from hwnas.hw_profiles._torch_features import OP_CLASSES, _class_row, op_class
from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._conv_specs import se_ops

#: A made-up device: in-graph ms per op and per output element of each class, and what a kernel alone pays more.
PER_OP = {"conv2d-pw": 0.004, "conv2d-dw-k3": 0.006, "conv2d-k3": 0.005, "linear": 0.003, "attention-softmax": 0.008,
          "layernorm": 0.002, "add": 0.001, "mul-broadcast": 0.002, "act-hswish": 0.001}
PER_OUTPUT = {"conv2d-pw": 2e-7, "conv2d-dw-k3": 3e-7, "conv2d-k3": 2e-7, "linear": 2e-7, "attention-softmax": 1e-7,
              "layernorm": 2e-7, "add": 1e-7, "mul-broadcast": 4e-7, "act-hswish": 1.5e-7}
PER_MAC = {"conv2d-pw": 2e-8, "conv2d-dw-k3": 3e-8, "conv2d-k3": 1.5e-8, "linear": 2e-8, "attention-softmax": 2.5e-8}
ALONE_PER_ELEMENT = {"dense-conv": 1e-7, "depthwise-conv": 3e-7, "matmul": 2e-7, "elementwise": 1.5e-7}
OVERHEAD = 0.02


def _op(rng: random.Random, kind: str):  # noqa: ANN202 - an OpSpec
    c, hw = rng.choice((16, 32, 48, 64, 96, 128)), rng.choice((7, 14, 28, 56))
    if kind == "conv2d-pw":
        return ops.conv2d(c, rng.choice((16, 32, 64, 128)), 1, 1, (hw, hw))
    if kind == "conv2d-dw-k3":
        return ops.conv2d(c, c, 3, 1, (hw, hw), groups=c, padding=1)
    if kind == "conv2d-k3":
        return ops.conv2d(c, rng.choice((16, 32, 64)), 3, 1, (hw, hw), padding=1)
    if kind == "linear":
        return ops.linear(rng.choice((1, 49, 196)), c, rng.choice((64, 256, 1000)))
    if kind == "attention-softmax":
        return ops.attention("softmax", hw * hw // 4, hw * hw // 4, rng.choice((1, 2, 4)), rng.choice((32, 64)))
    if kind == "layernorm":
        return ops.layernorm(hw * hw, c)
    if kind == "add":
        return ops.add(c * hw * hw)
    if kind == "mul-broadcast":
        return ops.mul(c * hw * hw, broadcast=True)
    return ops.act("hswish", c * hw * hw)


def _alone_ms(op) -> float:  # noqa: ANN001 - an OpSpec
    """What the made-up device charges a kernel timed alone: its family's rate on the elements it reads and writes."""
    if op.kind == "conv2d":
        family_name = "depthwise-conv" if op["groups"] > 1 else "dense-conv"
        ho = (op["h"] + 2 * op["padding"] - op["k"]) // op["stride"] + 1
        moved = op["cin"] * op["h"] * op["w"] + op["cout"] * ho * ho
    elif op.kind == "linear":
        family_name, moved = "matmul", op["n"] * (op["cin"] + op["cout"])
    elif op.kind == "attention":
        family_name, moved = "matmul", 2 * (op["n_q"] + op["n_kv"]) * op["heads"] * op["head_dim"]
    elif op.kind == "layernorm":
        family_name, moved = "elementwise", 2 * op["n"] * op["dim"]
    else:  # add, the gate: two inputs and an output; an activation: one of each
        family_name, moved = "elementwise", (3 if op.kind in ("add", "mul") else 2) * op["numel"]
    return ALONE_PER_ELEMENT[family_name] * moved


def _in_graph_ms(op_list: list, domain: OpLevelDomain) -> float:
    row = domain.row(op_list, overhead=0.0)[0]
    total = OVERHEAD
    for name in PER_OP:
        j = domain.columns.index(name) * 3 + 1
        total += row[j] * PER_OP[name] + row[j + 1] * PER_MAC.get(name, 0.0) + row[j + 2] * PER_OUTPUT[name]
    return total


def _device(seed: int = 0) -> tuple[list, np.ndarray, list, np.ndarray, OpLevelDomain]:
    rng = random.Random(seed)
    kinds = list(PER_OP)
    kernels = [_op(rng, kinds[i % len(kinds)]) for i in range(270)]
    blocks = [[_op(rng, rng.choice(kinds)) for _ in range(rng.randint(2, 6))] for _ in range(120)]
    domain = OpLevelDomain.from_dict({"op_classes": calibration_domain([[k] for k in kernels] + blocks, "onnxruntime"),
                                      "fusion": "onnxruntime"}, "made-up")
    kernel_ms = np.array([_in_graph_ms([k], domain) + _alone_ms(k) for k in kernels])
    block_ms = np.array([_in_graph_ms(b, domain) for b in blocks])
    return kernels, kernel_ms, blocks, block_ms, domain


def test_one_fit_separates_what_a_kernel_pays_alone_from_its_cost_in_a_graph():
    kernels, kernel_ms, blocks, block_ms, domain = _device()
    profile, model = fit_kernel_profile([(k, None, None) for k in kernels], kernel_ms, OVERHEAD, blocks, block_ms,
                                        "made-up", "cpu", "onnxruntime", "onnxruntime", {}, 1)
    profile._model = model
    assert profile.validation["metrics"]["acc10"] == 1.0, "held-out blocks priced within ±10 %"
    assert profile.validation["single_kernels"]["acc10"] == 1.0, "a kernel alone costs its in-graph ms and its alone cost"
    for name, rate in ALONE_PER_ELEMENT.items():
        assert profile.domain["alone_costs"][name]["per_element_ns"] == pytest.approx(rate * 1e6, rel=0.5)
    rng = random.Random(7)
    unseen = [[_op(rng, rng.choice(list(PER_OP))) for _ in range(12)] for _ in range(10)]
    predicted = np.array([explain_ops(profile, b).ms for b in unseen])
    truth = np.array([_in_graph_ms(b, domain) for b in unseen])
    assert np.abs(predicted / truth - 1).max() < 0.02, "a model's ops are priced at their in-graph costs"
    overhead, units = unit_costs(model.parts["model"], OpLevelDomain.from_dict(profile.domain, "made-up").columns)
    assert overhead == pytest.approx(OVERHEAD, rel=0.1)
    assert units["mul-broadcast"][2] == pytest.approx(PER_OUTPUT["mul-broadcast"], rel=0.2)


def test_a_squeeze_excite_gate_is_its_own_class_and_v3_rows_keep_their_layout():
    gate = se_ops(32, 0.25, (14, 14), "relu")[-1]
    assert op_class(gate) == "mul-broadcast" and op_class(ops.mul(100)) == "mul"
    assert ops.mul(100).key == ops.mul(100, broadcast=False).key == "mul(numel=100)", "a plain product's spec is unchanged"
    plain = se_ops(32, 0.25, (14, 14), "relu")[:-1] + [ops.mul(32 * 14 * 14)]
    assert _class_row(se_ops(32, 0.25, (14, 14), "relu"), None) == _class_row(plain, None)


@pytest.mark.parametrize("hw", [(1, 1), (7, 7), (56, 56)])
def test_a_profile_that_never_measured_gates_prices_them_as_when_it_was_fitted(hw):
    profile = get_profile("2080ti-b32")  # HELP's OFA subnets: their squeeze-excite products were fitted as `mul`
    assert "mul-broadcast" not in profile.domain["op_classes"]
    gated = se_ops(96, 0.25, hw, "relu")
    plain = gated[:-1] + [ops.mul(96 * hw[0] * hw[1])]
    assert explain_ops(profile, gated).to_dict() == explain_ops(profile, plain).to_dict()


def test_every_op_class_has_a_kernel_family():
    assert {family(name) for name in (*OP_CLASSES, "mul-broadcast")} == set(FAMILIES)
