"""Phone latency of conv/transformer spaces through nn-Meter blocks: decomposition, exact LUT hits,
out-of-domain messages, the latency evaluator on `latency_ms@pixel4` and a small search with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwnas.errors import OutOfDomainError
from hwnas.evaluators.latency import LatencyEvaluator
from hwnas.hw_profiles import get_profile, parse_block_key, predict_archs_ms
from hwnas.hw_profiles._blocks import nnmeter_block_keys, nnmeter_block_parts
from hwnas.hw_profiles._predict import EXTRAPOLATION, TIERS, explain_arch, phone_block_report
from hwnas.search_spaces import Arch, get_space
from hwnas.search_spaces.specs import I2RMBSpec

NAMED = ("emov2-1m", "emov2-2m", "emov2-5m", "emov2-20m")


@pytest.fixture(scope="module")
def emov2():
    return get_space("emov2", "imagenet")


@pytest.fixture(scope="module")
def pixel4():
    return get_profile("pixel4")


@pytest.fixture(scope="module")
def pixel4_table(hwnas_data):
    return json.loads((hwnas_data / "nnmeter-mobile-lut" / "pixel4_lut_ln_v3.json").read_text())


def _ibn_arch(space) -> Arch:
    """A MobileDets arch of IBN layers only (the first stage's IBN without expansion)."""
    arch = dict(space.sample(0))
    for key, value in list(arch.items()):
        if key.endswith("_ops"):
            arch[key] = ["ibn_k3_e1" if key == "s1_ops" else "ibn_k5_e4"] * len(value)
    return space.validate(arch)


def test_every_physical_column_is_named():
    from hwnas.hw_profiles import _nnmeter

    assert {k: len(v) for k, v in _nnmeter.PHYSICAL_NAMES.items()} == _nnmeter.PHYSICAL_WIDTH


@pytest.mark.parametrize("name", NAMED)
def test_emov2_every_block_is_priced_and_keys_parse(emov2, name):
    arch = emov2.named_arch(name)
    parts = nnmeter_block_parts(emov2, arch)
    blocks = {p.block.split(" ")[0] for p in parts}
    n_blocks = sum(isinstance(b, I2RMBSpec) for b in emov2.blocks(arch))
    assert len(blocks) == 2 + n_blocks + 1  # stem conv, stem dw+pw, every i2RMB, head: none dropped
    for key in nnmeter_block_keys(emov2, arch):
        block = parse_block_key(key)
        assert block.kind in ("firstconv", "conv", "transattn") and block.fields.get("act", "hard_swish") == "hard_swish"
    assert parse_block_key(nnmeter_block_keys(emov2, arch)[0]).fields["hw"] == 224
    attention = [p for p in parts if p.kind == "transattn" and p.key]
    assert attention and all(parse_block_key(p.key).fields["hw"] == 7 for p in attention)  # window 7
    assert {p.weight for p in attention if p.block.startswith("s3")} <= {4.0}  # 14×14 = 4 windows of 7×7


def test_half_integer_expansion_is_the_mean_of_its_neighbours(emov2, pixel4):
    arch = dict(emov2.named_arch("emov2-2m"))  # s2 expansion 2.5
    parts = [p for p in nnmeter_block_parts(emov2, arch) if p.block == "s2.1"]
    assert [parse_block_key(p.key).fields["expand"] for p in parts] == [2, 3] and [p.weight for p in parts] == [0.5, 0.5]
    priced = [p for p in phone_block_report(pixel4, emov2, arch) if p.part.block == "s2.1"]
    low, high = (p.ms / p.part.weight for p in priced)
    assert low < sum(p.ms for p in priced) < high


@pytest.mark.parametrize("name", NAMED)
def test_lut_hits_are_exactly_the_table(emov2, pixel4, pixel4_table, name):
    report = phone_block_report(pixel4, emov2, emov2.named_arch(name))
    hits = [p for p in report if p.tier == "lut"]
    assert len(hits) >= 4 and {p.tier for p in report} <= set(TIERS)
    for p in hits:
        assert p.ms == pytest.approx(p.part.weight * pixel4_table[p.part.key], rel=1e-5)  # table stored to 6 digits
    for p in report:
        if p.tier != "lut" and p.part.key is not None:
            assert p.part.key not in pixel4_table


def test_named_archs_sum_their_blocks_and_rank_by_size(emov2, pixel4):
    archs = [emov2.named_arch(n) for n in NAMED]
    ms = predict_archs_ms(pixel4, emov2, archs)
    sums = [sum(p.ms for p in phone_block_report(pixel4, emov2, a)) for a in archs]
    np.testing.assert_allclose(ms, sums)
    assert np.all(np.diff(ms) > 0) and 10 < ms[0] < ms[-1] < 1000
    pixel1, pixel6 = (predict_archs_ms(get_profile(d), emov2, archs) for d in ("pixel1", "pixel6"))
    assert np.all(pixel6 < ms) and np.all(ms < pixel1)  # newer phones are faster


def test_most_random_imagenet_subnets_are_in_domain(emov2, pixel4):
    ok = 0
    for seed in range(30):
        try:
            phone_block_report(pixel4, emov2, emov2.sample(seed))
            ok += 1
        except OutOfDomainError as exc:
            assert "exceeds" in str(exc) and f"{EXTRAPOLATION:g}×" in str(exc)
    assert ok >= 20


def _priced_by_ops(profile, space, arch) -> None:
    """The arch the table cannot price by blocks is priced by the table's op model, and explained op class by class."""
    explained = explain_arch(profile, space, arch)
    assert explained.ms == pytest.approx(float(predict_archs_ms(profile, space, [arch])[0])) and explained.ms > 0
    assert not any(name.startswith("block:") for name in explained.classes)


def test_out_of_domain_input_size_names_block_and_range(pixel4):
    space = get_space("emov2", "tiny")
    with pytest.raises(OutOfDomainError, match=r"block stem.conv: key firstconv_32_3_\d+_2_3: input size 32×32 is outside the input "
                                                r"sizes profile 'pixel4' measured \(128–256 px\)"):
        phone_block_report(pixel4, space, space.sample(0))
    _priced_by_ops(pixel4, space, space.sample(0))


def test_out_of_domain_block_too_large(emov2, pixel4):
    arch = dict(emov2.max_arch())
    arch["s3_heads"] = [0] * len(arch["s3_heads"])  # 1×1 conv expansions at 14×14, 320 → 1280 channels
    with pytest.raises(OutOfDomainError, match=r"block s3.1: key conv_14_320_320_4_1_hard_swish_5_nose: hw = 14 is outside .*"
                                                r"\[16, 128\], and project_macs = .* exceeds 3× the largest conv and transds block"):
        phone_block_report(pixel4, emov2, arch)
    _priced_by_ops(pixel4, emov2, emov2.validate(arch))


def test_mobiledets_ibn_priced_fused_tucker_and_ssdlite_out_of_domain(pixel4):
    tiny = get_space("mobiledets", "tiny")
    arch = _ibn_arch(tiny)
    keys = nnmeter_block_keys(tiny, arch, (3, 224, 224))
    assert all(parse_block_key(k).kind in ("firstconv", "conv") for k in keys)
    assert any(parse_block_key(k).fields["k"] == 5 and parse_block_key(k).fields["expand"] == 4 for k in keys[1:])
    report = phone_block_report(pixel4, tiny, arch, (3, 224, 224))
    assert report[-1].part.block == "head" and sum(p.ms for p in report) > 0
    fused = dict(arch, s2_ops=["fused_k3_e4"] * len(arch["s2_ops"]))
    with pytest.raises(OutOfDomainError, match=r"block s2.0 \(fused_k3\): a full k×k expansion conv has no nn-Meter block kind"):
        nnmeter_block_parts(tiny, fused, (3, 224, 224))
    coco = get_space("mobiledets", "ssdlite-coco")
    with pytest.raises(OutOfDomainError, match="SSDLite"):
        phone_block_report(pixel4, coco, coco.named_arch("mobiledet-cpu"))
    with pytest.raises(OutOfDomainError, match="tucker"):
        phone_block_report(pixel4, coco, coco.named_arch("mobiledet-gpu"))
    for name in ("mobiledet-cpu", "mobiledet-gpu"):
        _priced_by_ops(pixel4, coco, coco.named_arch(name))


def test_spaces_without_blocks_are_out_of_domain(pixel4):
    space = get_space("mixed-attention", "tiny")
    with pytest.raises(OutOfDomainError, match="space mixed-attention has no nn-Meter block decomposition"):
        phone_block_report(pixel4, space, space.sample(0))
    _priced_by_ops(pixel4, space, space.sample(0))


def test_latency_evaluator_on_pixel4(emov2):
    evaluator = LatencyEvaluator(emov2, "pixel4")
    assert evaluator.metrics == ("latency_ms@pixel4",) and evaluator.cheap
    arch = emov2.named_arch("emov2-1m")
    first = evaluator.evaluate([arch])[0]["latency_ms@pixel4"]
    assert first == pytest.approx(float(predict_archs_ms(evaluator.profile, emov2, [arch])[0]))
    stored = evaluator.evaluate([arch])[0]
    assert arch.id in evaluator._cache and stored["latency_ms@pixel4"] == first
    assert 0.0 <= stored["latency_unmeasured@pixel4"] < 0.5  # mostly table keys and in-range regressions
    big = dict(emov2.max_arch())
    big["s3_heads"] = [0] * len(big["s3_heads"])  # beyond what the blocks price: priced by the table's op model
    with pytest.raises(OutOfDomainError, match="exceeds"):
        phone_block_report(evaluator.profile, emov2, big)
    assert evaluator.evaluate([big])[0]["latency_ms@pixel4"] > first


def test_small_search_with_pixel4_latency(tmp_path):
    from hwnas.search import parse_spec, run_experiment

    spec = parse_spec({"name": "phone", "space": {"name": "emov2", "preset": "imagenet"},
                       "objectives": [{"metric": "params_m", "direction": "minimize"},
                                      {"metric": "latency_ms", "device": "pixel4", "direction": "minimize"}],
                       "constraints": ["latency_ms@pixel4 <= 60"], "searcher": {"kind": "optuna", "sampler": "random"},
                       "budget": {"trials": 8}, "seed": 0})
    experiment = run_experiment(spec, f"sqlite:///{tmp_path}/phone.db")
    trials = experiment.study.trials
    assert len(trials) == 8
    priced = [t.user_attrs["metrics"]["latency_ms@pixel4"] for t in trials if "latency_ms@pixel4" in t.user_attrs.get("metrics", {})]
    reasons = [t.user_attrs.get("infeasible_reason", "") for t in trials]
    assert priced and all(v > 0 for v in priced)
    assert all("pixel4" in r or "latency_ms@pixel4" in r for r in reasons if r)


@pytest.mark.parametrize("name", NAMED)
def test_decomposition_conserves_the_subnets_compute(emov2, name):
    """The parts' MACs equal the subnet's conv, attention and linear MACs: nothing dropped or counted twice
    (the slack is nn-Meter's q/k width c//16·16 where 16 does not divide c, e.g. 112 for 120 channels)."""
    from hwnas.hw_profiles import _nnmeter

    arch = emov2.named_arch(name)
    macs = 0.0
    for p in nnmeter_block_parts(emov2, arch):
        row = p.physical if p.key is None else _nnmeter.block_features(parse_block_key(p.key))[0]
        macs += p.weight * sum(v for n, v in zip(_nnmeter.PHYSICAL_NAMES[p.kind], row) if n.endswith("macs"))
    ops = sum(op.macs for op in emov2.ops(arch) if op.kind in ("conv2d", "window_attention", "linear"))
    assert 0.96 < macs / ops < 1.001
