"""`LogLinearRidge`: a positive factor from a few dozen samples, its shrinkage chosen by leave-one-out."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.errors import ProfileError
from hwnas.predictors import LogLinearRidge, predictor_from_dict
from hwnas.predictors._log_ridge import ridge_solution


def test_it_recovers_a_log_linear_factor_from_fifty_samples():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, size=(50, 3))
    factor = np.exp(0.2 + 0.05 * X[:, 0] - 0.03 * X[:, 2])
    model = LogLinearRidge().fit(X, factor)
    assert model.ridge <= 0.03, "noise-free: little shrinkage wins"
    test = rng.uniform(0, 10, size=(200, 3))
    np.testing.assert_allclose(model.predict(test), np.exp(0.2 + 0.05 * test[:, 0] - 0.03 * test[:, 2]), rtol=0.02)


def test_on_noise_it_shrinks_to_the_geometric_mean():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 8)), np.exp(rng.normal(scale=0.1, size=30))
    model = LogLinearRidge().fit(X, y)
    assert model.ridge >= 1.0, "features that explain nothing get shrunk away"
    assert np.ptp(np.log(model.predict(rng.normal(size=(100, 8))))) < 0.1


def test_leave_one_out_residuals_match_refitting_without_each_sample():
    rng = np.random.default_rng(2)
    z, target = rng.normal(size=(12, 3)), rng.normal(size=12)
    _, loo = ridge_solution(z, target, 0.3)
    for i in range(12):
        keep = np.arange(12) != i
        # the same penalty (ridge · n) as the fit on all 12 samples
        coef, _ = ridge_solution(z[keep], target[keep], 0.3 * 12 / 11)
        assert target[i] - np.concatenate([[1.0], z[i]]) @ coef == pytest.approx(loo[i], rel=1e-6, abs=1e-9)


def test_a_constant_feature_is_harmless_and_the_model_round_trips():
    X = np.column_stack([np.linspace(0, 1, 20), np.full(20, 5.0)])
    model = LogLinearRidge(ridge=0.01).fit(X, np.exp(X[:, 0]))
    again = predictor_from_dict(model.to_dict())
    np.testing.assert_allclose(again.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="fitted on 2"):
        model.predict(np.ones((1, 3)))
    state = model.to_dict()
    state["coef"] = state["coef"][:-1]
    with pytest.raises(ProfileError, match="one longer"):
        predictor_from_dict(state, "predictor.json")
