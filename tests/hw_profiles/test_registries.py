"""Blanket contract tests of the hardware-profile registries: every feature set prices archs, every
calibration source fits a profile on its format and scores it."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.hw_profiles import LatencyModel, Profile, get_profile, list_profiles, predict_archs_ms, save_profile
from hwnas.hw_profiles._few_shot import FEATURE_SET as FEW_SHOT
from hwnas.hw_profiles._few_shot import calibrate_few_shot
from hwnas.hw_profiles._predict import FEATURE_SETS
from hwnas.hw_profiles._sources import CALIBRATION_SOURCES
from hwnas.hw_profiles._torch_features import FEATURE_SET as TORCH_CURRENT
from hwnas.hw_profiles._torch_features import READABLE, ops_feature_rows
from hwnas.predictors import OpCostLinear, Residual
from hwnas.search_spaces import get_space

#: feature set -> (shipped profile, space, preset, options) it prices; measured sets use this machine instead.
PRICES = {"nnmeter-block-v1": ("pixel4", "emov2", "imagenet", {}),
          "op-level-v1": ("v100-b64", "ofa-mbv3", "imagenet-w1.2", {})}


def test_every_shipped_profile_has_a_registered_feature_set():
    assert {p.domain.get("features") for p in list_profiles()} <= set(FEATURE_SETS.names())


@pytest.mark.parametrize("features", FEATURE_SETS.names())
def test_every_feature_set_prices_archs(features, tmp_path, monkeypatch):
    if features in PRICES:
        name, space_name, preset, options = PRICES[features]
        profile, space = get_profile(name), get_space(space_name, preset, **options)
        archs = [space.min_arch(), space.max_arch()]
    elif features == FEW_SHOT:  # a mix of a shipped profile, fitted on six of its own predictions × 1.2
        space = get_space("fbnet")
        sample = [space.sample(seed) for seed in range(6)]
        profile, model = calibrate_few_shot(space, sample, predict_archs_ms(get_profile("v100"), space, sample) * 1.2, "mix",
                                            bases=["v100"])
        profile._model = model
        archs = [space.min_arch(), space.max_arch()]
    elif features == TORCH_CURRENT:  # what `hwnas profile measure` wrote before op-level profiles: it still prices
        space = get_space("mixed-attention", "tiny")
        sample = [space.sample(seed) for seed in range(12)]
        domain = {"features": features, "spaces": [{"space": space.name, "preset": space.preset}],
                  "input_shape": list(space.default_input_shape)}
        rows = ops_feature_rows(space, sample, domain)
        model = LatencyModel(features, {"model": Residual(OpCostLinear(ridge=1e-4), None).fit(rows, 0.05 + 0.01 * rows[:, 2])})
        provenance = {"source": "test", "licence": "test", "date": "2026-11-01"}
        written = Profile("local-cpu", "cpu", "torch", 1, 1, provenance, domain, {"kind": "residual", "file": "predictor.json"},
                          {"metrics": {}}, len(sample))
        profile = get_profile(save_profile(written, model, tmp_path / "torch-ops-v3"))
        archs = [space.min_arch(), space.max_arch()]
    else:  # an earlier torch-ops layout: its rows stay readable (profiles written with it still load)
        assert features in READABLE
        rows = ops_feature_rows(get_space("mixed-attention", "tiny"), [get_space("mixed-attention", "tiny").max_arch()],
                                {"features": features})
        assert rows.shape[0] == 1 and np.all(np.isfinite(rows))
        return
    ms = predict_archs_ms(profile, space, archs)
    assert ms.shape == (2,) and np.all(ms > 0) and ms[0] < ms[1]


@pytest.mark.parametrize("source", CALIBRATION_SOURCES.names())
def test_every_calibration_source_fits_and_scores(source, small_hat_csv, small_lut, small_help, tmp_path):
    entry = CALIBRATION_SOURCES.get(source)
    if entry.space_option:  # a user's own CSV of measured subnets of a space named on the command line
        from tests.hw_profiles.test_latency_cli import write_own_csv

        file = write_own_csv(tmp_path / "own.csv")
        profile, model = entry.calibrate(file, get_space("mobiledets", "tiny"), "laptop")
    else:
        file = {"hat-csv": small_hat_csv, "nnmeter-lut": small_lut, "help-csv": small_help["ofa-mbv3"]}[source]
        profile, model = entry.calibrate(file, device="v100_64" if source == "help-csv" else f"test-{source}")
    profile._model = model
    rows, predicted, measured = entry.score(profile, file)
    assert len(rows) == len(predicted) == len(measured) > 0
    assert np.mean(np.abs(predicted - measured) / measured) < 0.25
