"""NASWOT on every tiny preset: it reads codes from each space's activations and tells subnets apart."""

from __future__ import annotations

import math

import pytest

from hwnas.evaluators import NaswotEvaluator
from hwnas.search_spaces import get_space
from hwnas.tasks import get_task


@pytest.mark.parametrize("name", ["mixed-attention", "lighthubert", "emov2", "mobiledets"])
def test_naswot_scores_every_tiny_space(name):
    space = get_space(name, "tiny")
    shape = list(space.default_input_shape)
    x, _ = get_task("digits" if len(shape) == 3 else "mnist1d", input_shape=shape).batch(16)
    evaluator = NaswotEvaluator(space, (x,))
    scores = [evaluator.evaluate([arch])[0]["naswot"] for arch in (space.min_arch(), space.max_arch(), space.sample(0))]
    assert all(math.isfinite(s) for s in scores)
    assert len({round(s, 6) for s in scores}) > 1  # the proxy depends on the subnet
    assert evaluator.evaluate([space.min_arch()])[0]["naswot"] == scores[0]  # cached and deterministic
