"""Every predictor kind: fit, batched predict, JSON round trip, and the errors of the contract."""

import json

import numpy as np
import pytest

from hwnas.errors import OutOfDomainError, ProfileError
from hwnas.predictors import (
    ArchMLP, BlockLookupTable, Ensemble, GradientBoosted, KernelLevel, LogLinearRidge, OpCostLinear, Residual, SurrogateEnsemble, list_predictors,
    load_predictor, metrics, predictor_from_dict, save_predictor,
)


def physical_data(n=300, seed=0):
    """Latency = 0.2 + 2e-3·MACs + 5e-4·bytes (+1% noise): what unit-cost models should recover."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.integers(10, 1000, n), rng.integers(10, 2000, n)]).astype(float)
    y = (0.2 + 2e-3 * X[:, 1] + 5e-4 * X[:, 2]) * rng.normal(1, 0.01, n)
    return X, y


FACTORIES = {
    "op-cost-linear": lambda: OpCostLinear(),
    "gradient-boosted": lambda: GradientBoosted(n_estimators=60),
    "arch-mlp": lambda: ArchMLP(hidden_dim=32, hidden_layers=1, lr=3e-3, steps=300),
    "residual": lambda: Residual(OpCostLinear(), GradientBoosted(n_estimators=30, min_child_samples=20)),
    "ensemble": lambda: Ensemble([OpCostLinear(), GradientBoosted(n_estimators=30)], [3, 1]),
    "surrogate-ensemble": lambda: SurrogateEnsemble(members=2),
    "log-linear-ridge": lambda: LogLinearRidge(),
}


def test_every_arch_level_kind_is_covered():
    assert set(list_predictors()) == set(FACTORIES) | {"block-lut", "kernel-level"}


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_fit_predict_round_trip(kind, tmp_path):
    X, y = physical_data()
    model = FACTORIES[kind]().fit(X[:240], y[:240])
    pred = model.predict(X[240:])
    assert pred.shape == (60,)
    # a small MLP on 240 rows is the weak baseline; a log-linear model only bends towards a sum of costs
    floor = {"arch-mlp": 0.3, "log-linear-ridge": 0.2}.get(kind, 0.8)
    assert metrics.acc10(y[240:], pred) >= floor
    save_predictor(model, tmp_path / "p.json")
    again = load_predictor(tmp_path / "p.json")
    np.testing.assert_allclose(again.predict(X[240:]), pred, rtol=1e-9)
    assert "pickle" not in (tmp_path / "p.json").read_text()


def test_op_cost_linear_recovers_unit_costs():
    X, y = physical_data()
    model = OpCostLinear().fit(X, y)
    unit = model.coef_ / model.scale_ * model.gain_
    np.testing.assert_allclose(unit, [0.2, 2e-3, 5e-4], rtol=0.05)
    with pytest.raises(ValueError, match="non-negative"):
        OpCostLinear().fit(-X, y)


@pytest.mark.parametrize("bad_y,message", [([np.nan, 1.0], "positive finite"), ([0.0, 1.0], "positive finite")])
def test_fit_rejects_bad_latencies(bad_y, message):
    with pytest.raises(ValueError, match=message):
        OpCostLinear().fit([[1.0], [2.0]], bad_y)


def test_predict_before_fit_and_wrong_width():
    with pytest.raises(RuntimeError, match="before fit"):
        OpCostLinear().predict([[1.0, 2.0]])
    X, y = physical_data(50)
    with pytest.raises(ValueError, match="fitted on 3"):
        OpCostLinear().fit(X, y).predict(X[:, :2])


def test_saved_state_errors_name_the_field():
    X, y = physical_data(50)
    state = OpCostLinear().fit(X, y).to_dict()
    with pytest.raises(ProfileError, match="format_version"):
        predictor_from_dict({**state, "format_version": 99})
    with pytest.raises(ProfileError, match="lacks field 'coef'"):
        predictor_from_dict({k: v for k, v in state.items() if k != "coef"})
    with pytest.raises(ProfileError, match="'kind' = 'pickle'"):
        predictor_from_dict({**state, "kind": "pickle"})


def test_kernel_level_sums_ops_and_rejects_unknown_kinds():
    X, y = physical_data(200)
    kinds = np.array(["linear", "conv2d"] * 100)
    y = np.where(kinds == "conv2d", 3 * y, y)
    model = KernelLevel(lambda kind: OpCostLinear()).fit(X, y, kinds=kinds)
    assert metrics.acc10(y, model.predict(X, kinds=kinds)) > 0.95
    total = model.predict_sum(X[:4], kinds[:4], [0, 0, 1, 1])
    np.testing.assert_allclose(total, [model.predict(X[:2], kinds=kinds[:2]).sum(), model.predict(X[2:4], kinds=kinds[2:4]).sum()])
    with pytest.raises(OutOfDomainError, match="op kind 'attention' is outside"):
        model.predict(X[:1], kinds=["attention"])
    again = predictor_from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(again.predict(X, kinds=kinds), model.predict(X, kinds=kinds))


def test_block_lut_answers_seen_keys_exactly_and_falls_back_for_others():
    X, y = physical_data(100)
    keys = [f"block_{i}" for i in range(100)]
    model = BlockLookupTable(OpCostLinear()).fit(X[:80], y[:80], keys=keys[:80])
    pred = model.predict(X, keys=keys)
    np.testing.assert_allclose(pred[:80], np.round(y[:80], 12))
    assert metrics.acc10(y[80:], pred[80:]) > 0.9  # unseen keys: the regressor
    again = predictor_from_dict(model.to_dict())
    np.testing.assert_allclose(again.predict(X, keys=keys), pred, rtol=1e-5)  # table stored to 6 digits
