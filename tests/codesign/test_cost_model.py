"""The (arch, accelerator) cost model: ranks subnets as their MACs on a fixed accelerator, refuses ops it
cannot price, caches by (arch id, hardware id)."""

from __future__ import annotations

import time

import pytest
from scipy.stats import kendalltau

from hwnas.codesign import (
    Accelerator, AcceleratorCostModel, AcceleratorEvaluator, InvalidHardwareError, UnsupportedOpError, accelerator_space,
    joint_key,
)
from hwnas.search_spaces import Arch, OpSpec, get_space
from hwnas.search_spaces import _ops as ops

ACC = Accelerator.from_config(dict(pe_rows=16, pe_cols=16, rf_bytes=64, sram_kb=64, dram_gbps=8.0, dataflow="ws"))


def spread_by_macs(space, n: int, ratio: float) -> list[Arch]:
    """`n` archs whose MACs grow by at least `ratio` from one to the next (min and max arch included)."""
    pool = sorted({a.id: a for a in [space.min_arch(), space.max_arch(), *(space.sample(i) for i in range(300))]}.values(),
                  key=lambda a: ops.total_macs(space.ops(a)))
    chosen = [pool[0]]
    for arch in pool:
        if ops.total_macs(space.ops(arch)) >= ratio * ops.total_macs(space.ops(chosen[-1])):
            chosen.append(arch)
    assert len(chosen) >= n
    return chosen[:: max(1, len(chosen) // n)][:n]


def test_roofline_ranks_subnets_as_their_macs():
    space = get_space("emov2", "tiny")
    archs = spread_by_macs(space, 4, 1.4)
    model = AcceleratorCostModel(space)
    macs = [ops.total_macs(space.ops(a)) for a in archs]
    for metric in ("energy_mj", "accel_latency_ms"):
        values = [model.cost(a, ACC)[metric] for a in archs]
        assert kendalltau(macs, values).statistic == 1.0, (metric, macs, values)


def test_zigzag_backend_ranks_subnets_as_their_macs():
    space = get_space("mixed-attention", "tiny")
    archs = spread_by_macs(space, 3, 1.5)
    model = AcceleratorCostModel(space, backend="zigzag")
    energies = [model.cost(a, ACC)["energy_mj"] for a in archs]
    assert energies == sorted(energies) and energies[0] > 0


def test_every_op_is_priced_above_zero():
    space = get_space("emov2", "tiny")
    costs = AcceleratorCostModel(space).op_costs(space.ops(space.max_arch()), ACC)
    assert all(c.energy_pj > 0 and c.cycles > 0 for c in costs)


def test_an_op_no_model_prices_is_an_error_not_zero():
    lstm = OpSpec("lstm", (("n", 4), ("dim", 8)), macs=256)
    model = AcceleratorCostModel(get_space("emov2", "tiny"))
    with pytest.raises(UnsupportedOpError, match=r"no cost model prices op lstm\(n=4,dim=8\); priced kinds: conv2d, conv1d, linear"):
        model.op_costs([ops.linear(4, 8, 8), lstm], ACC)
    with pytest.raises(UnsupportedOpError):
        AcceleratorCostModel(get_space("emov2", "tiny"), backend="zigzag").op_costs([lstm], ACC)


def test_costs_are_cached_by_arch_and_hardware_id():
    space, hardware = get_space("emov2", "tiny"), accelerator_space()
    evaluator = AcceleratorEvaluator(space, hardware)
    arch, (hw_a, hw_b) = space.sample(0), (hardware.sample(1), hardware.sample(2))
    first = evaluator.evaluate_joint(arch, hw_a)
    assert set(first) == {"energy_mj", "accel_latency_ms", "area_mm2"}
    assert evaluator.evaluate_joint(arch, hw_a) == first
    assert evaluator.evaluate_joint(arch, hw_b) != first
    assert set(evaluator._cache) == {joint_key(arch.id, hw_a.id), joint_key(arch.id, hw_b.id)}
    evaluator.prime(joint_key(space.sample(3).id, hw_a.id), {"energy_mj": 1.0, "accel_latency_ms": 2.0, "area_mm2": 3.0})
    assert evaluator.evaluate_joint(space.sample(3), hw_a) == {"energy_mj": 1.0, "accel_latency_ms": 2.0, "area_mm2": 3.0}
    with pytest.raises(InvalidHardwareError, match="hardware field 'dataflow'"):
        evaluator.evaluate_joint(arch, {**hw_a, "dataflow": "xs"})


def test_zigzag_results_are_cached_per_layer_shape_and_accelerator():
    space = get_space("mixed-attention", "tiny")
    model = AcceleratorCostModel(space, backend="zigzag")
    arch = space.min_arch()
    model.cost(arch, ACC)
    layers = dict(model._zigzag)
    assert layers and all(hw_id == ACC.id for _, hw_id in layers)
    model._cache.clear()  # the arch-level cache gone, the layer-level one still answers: no ZigZag run
    started = time.perf_counter()
    again = model.cost(arch, ACC)
    assert time.perf_counter() - started < 0.05 and model._zigzag == layers and again["energy_mj"] > 0


def test_backend_is_checked():
    with pytest.raises(Exception, match="backend 'timeloop' is not one of"):
        AcceleratorCostModel(get_space("emov2", "tiny"), backend="timeloop")
