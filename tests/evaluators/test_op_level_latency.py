"""Latency from an op-level profile: the prediction and, stored beside it, how much of it is not measured."""

from __future__ import annotations

import pytest

from hwnas.evaluators.latency import LatencyEvaluator
from hwnas.search_spaces import get_space


def test_an_op_level_latency_carries_its_unmeasured_share():
    ofa, fbnet = get_space("ofa-mbv3"), get_space("fbnet")
    measured = LatencyEvaluator(ofa, "v100-b64").evaluate([ofa.max_arch()])[0]
    assert measured["latency_ms@v100-b64"] > 0 and measured["latency_unmeasured@v100-b64"] == pytest.approx(0.0)
    grouped = fbnet.validate({"blocks": ["k3_e1_g2"] * 22})  # FBNet's shuffles and 32×32 shapes: V100 saw only OFA
    elsewhere = LatencyEvaluator(fbnet, "v100-b64").evaluate([grouped])[0]
    assert 0.0 < elsewhere["latency_unmeasured@v100-b64"] <= 1.0
    hat = LatencyEvaluator(get_space("mixed-attention", "hat-wmt14-en-de", attention=["softmax"]), "xeon")
    assert hat.evaluate([hat.space.min_arch()])[0]["latency_unmeasured@xeon"] == pytest.approx(0.0)  # what HAT measured
