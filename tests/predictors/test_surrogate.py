"""The accuracy surrogate: fits small data, says how sure it is, saves as JSON and reloads identically."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwnas.errors import ProfileError
from hwnas.predictors import SurrogateEnsemble, load_predictor, metrics, predictor_from_dict, save_predictor


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth score of 6 features, accuracy-like (0.5-0.9), with a little noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n, 6))
    return x, 0.5 + 0.25 * x[:, 0] + 0.1 * x[:, 1] * x[:, 2] + 0.05 * x[:, 3] + rng.normal(0, 0.005, n)


def test_ranks_held_out_points_from_fifty():
    x, y = _data(250)
    model = SurrogateEnsemble(members=4, mlp=True, seed=0).fit(x[:50], y[:50])
    assert metrics.kendall_tau(y[50:], model.predict(x[50:])) > 0.6


def test_spread_is_larger_far_from_the_data():
    x, y = _data(60)
    inside = x[:, 0] < 0.5  # trained on half of the first feature's range only
    model = SurrogateEnsemble(members=6, mlp=True, seed=1).fit(x[inside], y[inside])  # MLPs disagree off the data
    far = np.random.default_rng(2).uniform(0, 1, size=(200, 6))
    far[:, 0] = 1.0
    near = far.copy()
    near[:, 0] = 0.25
    _, spread_near = model.predict_with_spread(near)
    _, spread_far = model.predict_with_spread(far)
    assert spread_far.mean() > spread_near.mean()
    assert np.all(spread_near >= 0)


def test_saved_as_json_and_reloaded_identically(tmp_path):
    x, y = _data(40)
    model = SurrogateEnsemble(members=3, mlp=True, seed=0, about={"metric": "accuracy"}).fit(x, y)
    path = tmp_path / "surrogate.json"
    save_predictor(model, path)
    loaded = load_predictor(path)
    assert isinstance(loaded, SurrogateEnsemble) and loaded.about == {"metric": "accuracy"} and loaded.mlp
    for a, b in zip(model.predict_with_spread(x), loaded.predict_with_spread(x)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_scores_may_be_zero_or_negative():
    x, y = _data(30)
    model = SurrogateEnsemble(members=2, mlp=False).fit(x, y - 0.7)  # e.g. a BLEU difference
    assert model.predict(x).min() < 0


@pytest.mark.parametrize("rows, scores, message", [
    (np.zeros((1, 3)), [0.5], "at least two"),
    (np.zeros((3, 3)), [0.5, float("nan"), 0.4], "finite"),
    (np.zeros((3, 3)), [0.5, 0.4], "3 rows but y has 2"),
])
def test_bad_data_is_refused(rows, scores, message):
    with pytest.raises(ValueError, match=message):
        SurrogateEnsemble().fit(rows, scores)


def test_a_malformed_saved_surrogate_names_the_problem():
    x, y = _data(20)
    state = json.loads(json.dumps(SurrogateEnsemble(members=2, mlp=False).fit(x, y).to_dict()))
    state["models"] = state["models"][:1]
    with pytest.raises(ProfileError, match="must hold 2 members"):
        predictor_from_dict(state)
    with pytest.raises(ValueError, match="at least 2 members"):
        SurrogateEnsemble(members=1)
