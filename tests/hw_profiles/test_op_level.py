"""Op-level profiles: unit costs recovered from end-to-end latencies, provenance of every millisecond, fusion,
and archs of other spaces priced as measured, composed or extrapolated, or refused naming the op class."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

from hwnas.errors import OutOfDomainError
from hwnas.hw_profiles import get_profile, predict_archs_ms, save_profile
from hwnas.hw_profiles._calibrate_op_level import Measured, calibrate_measured
from hwnas.hw_profiles._op_level import fused, out_elements
from hwnas.hw_profiles._predict import explain_arch, op_level_domain
from hwnas.search_spaces import get_space
from hwnas.search_spaces import _ops as ops


def known_device_ms(space, arch) -> float:
    """A device whose costs are known: 0.5 ms per inference, 20 µs per op, 0.1 ns per MAC, 1 ns per output."""
    return 0.5 + sum(2e-2 + 1e-7 * op.macs + 1e-6 * out_elements(op) for op in space.ops(arch))


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    space = get_space("ofa-mbv3")
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(300)]
    source = Measured("synthetic", space, archs, np.array([known_device_ms(space, a) for a in archs]), {"licence": "test"})
    fitted, model = calibrate_measured([source], "known", "gpu", "synthetic", 1, "synthetic latencies", "test")
    return get_profile(save_profile(fitted, model, tmp_path_factory.mktemp("p") / "known"))


def test_unit_costs_reproduce_the_device(profile):
    per_source = profile.validation["per_source"]["synthetic"]
    assert per_source["acc5"] == 1.0 and per_source["mape"] < 0.01
    space = get_space("ofa-mbv3", "imagenet-w1.0")  # same classes, other widths: still the known device
    archs = [space.sample(i) for i in range(20)]
    predicted = predict_archs_ms(profile, space, archs)
    assert np.allclose(predicted, [known_device_ms(space, a) for a in archs], rtol=0.05)


def test_explanations_sum_to_the_prediction(profile):
    space = get_space("ofa-mbv3")
    arch = space.sample(3)
    explained = explain_arch(profile, space, arch)
    assert explained.ms == pytest.approx(float(predict_archs_ms(profile, space, [arch])[0]))
    assert explained.overhead_ms + sum(ms for ms, _ in explained.classes.values()) + explained.correction_ms == pytest.approx(explained.ms)
    assert explained.share("measured") == pytest.approx(1.0) and {w for _, w in explained.classes.values()} == {"measured"}


def test_other_spaces_are_composed_or_extrapolated_never_measured_where_unseen(profile):
    fbnet = get_space("fbnet")
    arch = fbnet.validate({"blocks": ["k3_e1_g2"] * 22})  # grouped blocks: a channel shuffle OFA never ran
    explained = explain_arch(profile, fbnet, arch)
    assert "shuffle" not in profile.domain["op_classes"] and explained.classes["shuffle"][1] in ("composed", "extrapolated")
    vit = get_space("mixed-attention", "tiny")
    cos = vit.validate(vit.max_arch().replace(attn=("cosformer",) * len(vit.max_arch()["attn"])))
    explained = explain_arch(profile, vit, cos)
    assert explained.classes["attention-cosformer"][1] in ("composed", "extrapolated")
    assert "layernorm" not in profile.domain["op_classes"] and explained.classes["layernorm"][1] != "measured"
    assert 0.0 < explained.share("measured") < 1.0
    assert sum(explained.share(p) for p in ("measured", "composed", "extrapolated")) == pytest.approx(1.0)


def test_shares_count_each_ops_own_provenance(profile):
    """A class whose small ops lie in the measured range and whose largest lies beyond it is split by op, not
    counted as extrapolated whole: the shares are of milliseconds, op by op."""
    from hwnas.hw_profiles._predict import explain_ops

    largest_macs = profile.domain["op_classes"]["conv2d-pw"]["macs"][1]
    inside = next(op for op in get_space("ofa-mbv3").ops(get_space("ofa-mbv3").max_arch())
                  if op.kind == "conv2d" and op["k"] == 1 and op.macs == largest_macs)
    beyond = ops.conv2d(inside["cin"], inside["cout"] * 4, 1, 1, (inside["h"], inside["w"]))  # 4× the largest measured
    explained = explain_ops(profile, [inside, beyond])
    by = explained.split["conv2d-pw"]
    assert set(by) == {"measured", "extrapolated"} and explained.classes["conv2d-pw"] == (pytest.approx(sum(by.values())), "extrapolated")
    assert explained.share("measured") == pytest.approx((explained.overhead_ms + by["measured"]) / explained.ms)
    assert 0.1 < explained.share("extrapolated") < 0.9


def test_out_of_domain_names_the_op_class(profile):
    speech = get_space("lighthubert", "base")  # its front end's convs are ~30× the largest conv OFA measured
    with pytest.raises(OutOfDomainError, match=r"arch [0-9a-f]{16} of lighthubert/base: op class 'conv1d-k3' has no basis"):
        predict_archs_ms(profile, speech, [speech.min_arch()])


def test_deployed_runtimes_fold_batchnorm_and_activations():
    conv = ops.conv2d(8, 16, 3, 1, (8, 8), padding=1)
    chain = [conv, ops.batchnorm(16, (8, 8)), ops.act("relu", 1024), ops.add(1024), ops.act("sigmoid", 16)]
    assert fused(chain, "eager") == chain
    assert [op.kind for op in fused(chain, "deployed")] == ["conv2d", "add", "act"]
    assert [op.kind for op in fused(chain, "onnxruntime")] == ["conv2d", "add", "act"]  # ReLU runs inside the conv


def test_onnx_runtime_runs_hard_swish_and_gelu_as_their_own_ops():
    conv, linear = ops.conv2d(8, 16, 3, 1, (8, 8), padding=1), ops.linear(4, 16, 16)
    chain = [conv, ops.batchnorm(16, (8, 8)), ops.act("hswish", 1024), linear, ops.act("gelu", 64), conv,
             ops.act("relu6", 1024)]
    assert [op.kind for op in fused(chain, "deployed")] == ["conv2d", "linear", "conv2d"]
    assert [(op.kind, op["act"] if op.kind == "act" else None) for op in fused(chain, "onnxruntime")] == [
        ("conv2d", None), ("act", "hswish"), ("linear", None), ("act", "gelu"), ("conv2d", None)]
    assert out_elements(conv) == 16 * 8 * 8


def test_a_space_correction_prices_only_its_own_space(profile, tmp_path):
    from hwnas.hw_profiles._calibrate_op_level import fit_correction
    from hwnas.hw_profiles._predict import _op_level_rows
    from hwnas.hw_profiles._profile import LatencyModel, load_profile

    space, other = get_space("ofa-mbv3"), get_space("ofa-mbv3", "imagenet-w1.0")
    archs = [space.sample(i) for i in range(300)]
    rows = _op_level_rows(profile, space, archs)[0]
    truth = np.array([known_device_ms(space, a) for a in archs])
    skewed = truth * np.where(rows[:, 1] > np.median(rows[:, 1]), 1.3, 1.0)  # this space runs slower when it has more ops
    model = LatencyModel.from_dict(profile.model.to_dict(), "copy")
    model.aux["correction:ofa-mbv3/imagenet-w1.2"] = fit_correction(rows, skewed, model.parts["model"])
    save_profile(load_profile(profile.path), model, tmp_path / "corrected")
    corrected = get_profile(tmp_path / "corrected")
    assert np.mean(np.abs(predict_archs_ms(corrected, space, archs) / skewed - 1)) < np.mean(np.abs(truth / skewed - 1)) / 2
    others = [other.sample(i) for i in range(5)]
    assert np.allclose(predict_archs_ms(corrected, other, others), [known_device_ms(other, a) for a in others], rtol=0.05)
    from hwnas.hw_profiles._predict import _corrected  # an arch of the space with an op not measured keeps its unit costs

    unmeasured = np.zeros_like(rows[:2])
    unmeasured[1, 1] = 1.0
    base = np.array([1.0, 1.0])
    factor = np.exp(corrected.model.aux["correction:ofa-mbv3/imagenet-w1.2"].predict_raw(rows[:2]))
    assert np.allclose(_corrected(corrected, space, rows[:2], unmeasured, base), [factor[0], 1.0])


def test_equal_blocks_built_apart_price_the_same(profile):
    """A domain finds shared specs by identity; an equal spec built another way (a copy) is the same block, priced
    from the same row."""
    space, domain = get_space("ofa-mbv3"), op_level_domain(profile)
    blocks = space.latency_blocks(space.sample(11))
    rebuilt = [copy.deepcopy(b) for b in blocks]  # equal specs outside the shared table
    assert all(a == b and a is not b for a, b in zip(blocks, rebuilt))
    first, _ = domain.blocks_rows([blocks])
    known = len(domain._blocks)
    again, _ = domain.blocks_rows([rebuilt])
    assert np.array_equal(first, again) and len(domain._blocks) == known  # no block stored twice


def test_the_identity_table_starts_over_without_changing_a_price(profile, monkeypatch):
    """Blocks seen before are found by id, each held while its entry lives so no other object takes that id; when
    the table is full it starts over, and prices of many archs (and of copies, whose ids are new) are unchanged."""
    from hwnas.hw_profiles import _op_level

    space = get_space("ofa-mbv3")
    archs = [space.sample(i) for i in range(30)]
    expected = op_level_domain(profile).blocks_rows([space.latency_blocks(a) for a in archs])[0]
    monkeypatch.setattr(_op_level, "IDENTITY_MAX", 3)
    domain = _op_level.OpLevelDomain(op_level_domain(profile).classes, op_level_domain(profile).fusion, "fresh")
    for lists in ([space.latency_blocks(a) for a in archs], [copy.deepcopy(space.latency_blocks(a)) for a in archs]):
        rows, _ = domain.blocks_rows(lists)
        assert np.allclose(rows, expected, rtol=1e-12, atol=0) and len(domain._held) <= 3
        assert domain._held.keys() == domain._index_by_id.keys()
    assert np.array_equal(domain.blocks_rows(space.latency_blocks(a) for a in archs)[0], rows)  # any iterable of subnets
