"""Few-shot profiles: a new device from N measured subnets as a mix of other devices' profiles."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import spearmanr

from hwnas.errors import OutOfDomainError, ProfileError
from hwnas.hw_profiles import get_profile, save_profile
from hwnas.hw_profiles._few_shot import (
    CORRECTION_MIN,
    calibrate_few_shot,
    candidate_bases,
    fit_mix,
    leave_one_out,
    read_measurements,
    spread_indices,
    suggest_archs,
)
from hwnas.hw_profiles._predict import predict_archs_ms
from hwnas.search_spaces import get_space


@pytest.fixture(scope="module")
def pixel2(hwnas_data):
    """HELP's FBNet subnets measured on a Pixel 2 (the target: its own profile is never a base here)."""
    space = get_space("fbnet")
    archs, ms = read_measurements(hwnas_data / "help-latency" / "fbnet_latency_ms.csv", space, "pixel2")
    return space, archs, ms


def test_the_mix_recovers_the_weights_that_made_the_measurements():
    rng = np.random.default_rng(0)
    base = rng.uniform(1, 10, size=(30, 4))
    truth = np.array([0.5, 0.0, 2.0, 0.0])
    weights = fit_mix(base, base @ truth, ridge=1e-9)
    np.testing.assert_allclose(weights, truth, atol=1e-4)
    assert (fit_mix(base, base @ truth) >= 0).all()
    held_out = leave_one_out(base, base @ truth)
    np.testing.assert_allclose(held_out, base @ truth, rtol=5e-3)  # the default ridge shrinks a little


def test_spread_picks_distinct_far_apart_rows():
    base = np.exp(np.random.default_rng(1).normal(size=(200, 3)))
    chosen = spread_indices(base, 10)
    assert len(set(chosen)) == 10
    logs = np.log(base)
    spread = np.ptp(logs[chosen], axis=0)
    assert (spread > 0.6 * np.ptp(logs, axis=0)).all(), "the picks cover most of each base's range"


def test_ten_measurements_of_a_phone_rank_its_other_subnets(pixel2, tmp_path):
    space, archs, ms = pixel2
    rng = np.random.default_rng(0)
    pool = rng.choice(len(archs), 300, replace=False)
    _, pool_ms, _ = candidate_bases(space, [archs[i] for i in pool], exclude=["pixel2"])
    chosen = pool[spread_indices(pool_ms, 10)]
    profile, model = calibrate_few_shot(space, [archs[i] for i in chosen], ms[chosen], "my-pixel2", exclude=["pixel2"])
    assert profile.n_measurements == 10 and "pixel2" not in [b["profile"] for b in profile.domain["bases"]]
    assert profile.validation["n_test"] == 10 and "spearman" in profile.validation["metrics"]
    save_profile(profile, model, tmp_path / "my-pixel2")
    loaded = get_profile(tmp_path / "my-pixel2")
    test = np.setdiff1d(rng.choice(len(archs), 600, replace=False), chosen)[:400]
    predicted = predict_archs_ms(loaded, space, [archs[i] for i in test])
    assert spearmanr(predicted, ms[test])[0] > 0.6
    assert np.median(np.abs(predicted / ms[test] - 1)) < 0.2
    ofa = get_space("ofa-mbv3")  # every base of this mix prices OFA too, so the new device does
    assert (predict_archs_ms(loaded, ofa, [ofa.sample(s) for s in range(3)]) > 0).all()


def _acc10(predicted: np.ndarray, measured: np.ndarray) -> float:
    return float(np.mean(np.abs(predicted / measured - 1) <= 0.10))


def test_fifty_measurements_correct_the_mix_where_it_errs(hwnas_data, tmp_path):
    """A Xeon that no mix of the other devices matches within 10 %: with 50 measurements the correction
    over the arch summary is kept, and it prices the device's other subnets better than the mix alone."""
    space = get_space("fbnet")
    archs, ms = read_measurements(hwnas_data / "help-latency" / "fbnet_latency_ms.csv", space, "gold_6226")
    rng = np.random.default_rng(0)
    pool = rng.choice(len(archs), 300, replace=False)
    _, pool_ms, _ = candidate_bases(space, [archs[i] for i in pool], exclude=["gold-6226"])
    chosen = pool[spread_indices(pool_ms, 50)]
    profile, model = calibrate_few_shot(space, [archs[i] for i in chosen], ms[chosen], "my-xeon", exclude=["gold-6226"])
    assert profile.domain["correction"]["space"] == "fbnet", "50 measurements: the correction beats the mix held out"
    assert profile.validation["metrics"]["acc10"] > profile.validation["mix_alone"]["acc10"]
    save_profile(profile, model, tmp_path / "my-xeon")
    loaded = get_profile(tmp_path / "my-xeon")
    test = np.setdiff1d(np.arange(len(archs)), chosen)[:400]
    test_archs = [archs[i] for i in test]
    corrected = predict_archs_ms(loaded, space, test_archs)
    mixed = sum(b["weight"] * predict_archs_ms(get_profile(b["profile"]), space, test_archs) for b in loaded.domain["bases"])
    assert _acc10(corrected, ms[test]) > _acc10(mixed, ms[test]) + 0.1
    ofa = get_space("ofa-mbv3")  # another space: the mix alone, the correction does not apply there
    other = [ofa.sample(s) for s in range(3)]
    np.testing.assert_allclose(predict_archs_ms(loaded, ofa, other),
                               sum(b["weight"] * predict_archs_ms(get_profile(b["profile"]), ofa, other)
                                   for b in loaded.domain["bases"]), rtol=1e-9)
    stored = json.loads((tmp_path / "my-xeon" / "predictor.json").read_text())
    correction = stored["aux"]["correction:fbnet/cifar100"]
    for key in ("mean", "scale"):
        correction[key] = correction[key][1:]
    correction["coef"] = correction["coef"][1:]
    (tmp_path / "my-xeon" / "predictor.json").write_text(json.dumps(stored))
    with pytest.raises(ProfileError, match="its correction for fbnet/cifar100 does not fit"):
        predict_archs_ms(get_profile(tmp_path / "my-xeon"), space, test_archs[:2])
    few, few_model = calibrate_few_shot(space, [archs[i] for i in chosen[:CORRECTION_MIN - 1]], ms[chosen[:CORRECTION_MIN - 1]],
                                        "my-xeon", exclude=["gold-6226"])
    assert "correction" not in few.domain and not few_model.aux, "too few measurements for a correction"


def test_a_space_a_base_cannot_price_names_the_base(tmp_path):
    hat = get_space("mixed-attention", "hat-wmt14-en-de", attention=["softmax"])  # what HAT measured
    archs = [hat.sample(s) for s in range(6)]
    measured = predict_archs_ms(get_profile("xeon"), hat, archs) * 1.3
    profile, model = calibrate_few_shot(hat, archs, measured, "my-cpu", bases=["xeon"])
    assert profile.domain["bases"][0]["weight"] == pytest.approx(1.3, rel=0.01)
    save_profile(profile, model, tmp_path / "p")
    fbnet = get_space("fbnet")
    with pytest.raises(OutOfDomainError, match="base 'xeon'"):
        predict_archs_ms(get_profile(tmp_path / "p"), fbnet, [fbnet.sample(0)])


def test_suggest_is_reproducible_and_valid():
    space = get_space("fbnet")
    first = suggest_archs(space, 5, pool=100, seed=3)
    assert [a.id for a in first] == [a.id for a in suggest_archs(space, 5, pool=100, seed=3)]
    assert len({a.id for a in first}) == 5 and all(space.validate(a) for a in first)


def _hwnas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwnas", *args], capture_output=True, text=True, timeout=600)


def test_calibrate_few_shot_from_json_lines_and_its_bad_inputs(pixel2, tmp_path):
    space, archs, ms = pixel2
    lines = [json.dumps({"arch": archs[i].to_dict(), "ms": float(ms[i])}) for i in range(12)]
    good = tmp_path / "m.jsonl"
    good.write_text("\n".join(lines) + "\n")
    out = tmp_path / "profile"
    done = _hwnas("profile", "calibrate", "--few-shot", str(good), "--space", "fbnet", "--device", "my-phone", "--out", str(out),
                  "--json")
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["name"] == "my-phone" and facts["n_measurements"] == 12
    assert "sha256" in (out / "profile.yaml").read_text()
    latency = _hwnas("latency", "fbnet", "--device", str(out), "--arch", json.dumps(archs[20].to_dict()), "--json")
    assert latency.returncode == 0, latency.stderr

    outside = tmp_path / "outside.jsonl"
    outside.write_text(lines[0] + "\n" + json.dumps({"arch": {"blocks": ["nope"] * 22}, "ms": 3.0}) + "\n")
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(lines[:3]) + "\n")
    for args, message in [
        (["--few-shot", str(tmp_path / "missing.jsonl")], "not found"),
        (["--few-shot", str(outside)], "line 2, field 'arch'"),
        (["--few-shot", str(few)], "at least 5"),
        (["--few-shot", str(good), str(good), "--source", "help-csv"], "no FILE arguments"),
    ]:
        bad = _hwnas("profile", "calibrate", *args, "--space", "fbnet", "--device", "x", "--out", str(tmp_path / "bad"))
        assert bad.returncode == 2, bad.stderr
        assert message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert not (tmp_path / "bad").exists(), "a refused calibration writes nothing"


def test_measure_few_shot_here(tmp_path):
    out = tmp_path / "mine"
    done = _hwnas("profile", "measure", "--few-shot", "--space", "mixed-attention", "--preset", "tiny", "-n", "6",
                  "--repeats", "3", "--warmup", "1", "--blocks", "1", "--pause", "0", "--name", "this-laptop", "--out", str(out),
                  "--json")
    assert done.returncode == 0, done.stderr
    profile = get_profile(out)
    assert profile.device == "this-laptop" and profile.kind == "cpu" and profile.n_measurements == 6
    assert profile.provenance["measured"]["method"]["repeats"] == 3
