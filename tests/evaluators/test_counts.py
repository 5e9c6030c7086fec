"""Params and FLOPs: each block counted once and remembered, the sums exactly those of the arch's ops."""

from __future__ import annotations

import pytest

from hwnas.evaluators import CountEvaluator, counts
from hwnas.search_spaces import get_space
from hwnas.search_spaces._ops import total_macs, total_params
from hwnas.search_spaces.specs import TransformerLayerSpec
from tests.conftest import SPACE_PRESETS


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=[f"{n}/{p}" for n, p in SPACE_PRESETS])
def test_counts_are_the_sums_over_the_archs_ops(name, preset):
    space = get_space(name, preset)
    evaluator = CountEvaluator(space)
    archs = [space.min_arch(), space.max_arch(), *(space.sample(i) for i in range(20))]
    for arch, row in zip(archs, evaluator.evaluate(archs)):
        ops = space.ops(arch)
        assert row == {"params_m": total_params(ops) / 1e6, "flops_m": total_macs(ops) / 1e6}


def test_remembered_blocks_are_bounded(monkeypatch):
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    monkeypatch.setattr(counts, "BLOCKS_REMEMBERED", 3)
    evaluator = CountEvaluator(space)
    archs = [space.sample(i) for i in range(5)]
    rows = evaluator.evaluate(archs)
    assert len(evaluator._per_block) <= 3
    assert rows == [{"params_m": total_params(space.ops(a)) / 1e6, "flops_m": total_macs(space.ops(a)) / 1e6} for a in archs]


def test_a_block_with_an_unhashable_field_is_counted_each_time():
    space = get_space("mixed-attention", "tiny")
    evaluator = CountEvaluator(space)
    block = TransformerLayerSpec(4, 8, 1, 8, 16, "softmax", "relu", False, ["softmax"])  # a list: not hashable
    assert evaluator._counts(block) == (total_params(block.ops()), total_macs(block.ops())) and not evaluator._per_block
