"""The latency evaluator: predicted from a shipped profile (batched, cached) and measured on this CPU."""

import pytest

from hwnas.errors import InvalidArchError, OutOfDomainError, UnknownNameError
from hwnas.evaluators.latency import LatencyEvaluator
from hwnas.search_spaces import get_space


@pytest.fixture(scope="module")
def space():
    return get_space("mixed-attention", "hat-wmt14-en-de")


def softmax_only(arch):
    return arch.replace(encoder_attn=["softmax"] * arch["encoder_layers"], decoder_attn=["softmax"] * arch["decoder_layers"])


def test_predicted_latency_is_batched_keyed_and_cached(space):
    evaluator = LatencyEvaluator(space, "raspberrypi")
    archs = [softmax_only(space.sample(i)) for i in range(50)]
    values = evaluator.evaluate(archs + archs[:5])
    assert evaluator.metrics == ("latency_ms@raspberrypi",) and evaluator.cheap
    assert len(values) == 55 and values[50] == values[0]
    assert all(1000 < v["latency_ms@raspberrypi"] < 20000 for v in values)
    assert len(evaluator._cache) == 50
    named = evaluator.evaluate([space.named_arch("hat-raspberrypi-4.0s")])[0]["latency_ms@raspberrypi"]
    assert named == pytest.approx(4000, rel=0.05)


def test_out_of_domain_names_the_op_and_caches_nothing():
    mobiledets = get_space("mobiledets", "ssdlite-coco")
    evaluator = LatencyEvaluator(mobiledets, "2080ti")  # HELP's 2080 Ti ran OFA's and FBNet's convs: no full 5×5 at this size
    good, bad = mobiledets.min_arch(), mobiledets.max_arch()
    with pytest.raises(OutOfDomainError, match=r"op class 'conv2d-k5' has no basis in profile '2080ti'"):
        evaluator.evaluate([good, bad])
    assert len(evaluator._cache) == 0
    with pytest.raises(InvalidArchError):
        evaluator.evaluate([{"encoder_embed_dim": 1}])


def test_unknown_device():
    with pytest.raises(UnknownNameError, match="'nokia3310'"):
        LatencyEvaluator(get_space("mixed-attention", "tiny"), "nokia3310")


def test_measured_latency_on_this_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_LOCK_DIR", str(tmp_path))
    tiny = get_space("mixed-attention", "tiny")
    evaluator = LatencyEvaluator(tiny, "local-cpu", measure=True, warmup=1, repeats=3)
    assert not evaluator.cheap
    values = evaluator.evaluate([tiny.min_arch(), tiny.max_arch()])
    small, large = (v["latency_ms@local-cpu"] for v in values)
    assert 0 < small < 1000 and 0 < large < 1000
