"""`GradientBoosted`: LightGBM trees over features, saved as LightGBM's own text model inside JSON.

Fitted on log-latency by default, so errors are relative and predictions stay positive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hwnas.predictors._base import Predictor, as_matrix, check_fit_data, register_predictor

DEFAULT_PARAMS: dict[str, Any] = dict(
    n_estimators=400, learning_rate=0.05, num_leaves=15, min_child_samples=10, subsample=0.8, subsample_freq=1,
    colsample_bytree=0.8, reg_lambda=1.0,
)


def _lightgbm():  # noqa: ANN202 - imported lazily: only fitting and tree predictors need it
    import lightgbm  # heavy (0.3 s): loading a profile must not import it; fitting and predicting do

    return lightgbm


@register_predictor("gradient-boosted")
class GradientBoosted(Predictor):
    """Gradient-boosted trees; `log_target` fits log(ms); `params` are LightGBM's sklearn arguments."""

    def __init__(self, log_target: bool = True, seed: int = 0, **params: Any) -> None:
        self.log_target, self.seed = bool(log_target), int(seed)
        self.params = {**DEFAULT_PARAMS, **params}
        self.booster_: Any = None
        self.n_features_: int = 0

    def fit(self, X: ArrayLike, y: ArrayLike) -> GradientBoosted:
        matrix, target = check_fit_data(X, y)
        model = _lightgbm().LGBMRegressor(random_state=self.seed, n_jobs=1, verbose=-1, **self.params)
        model.fit(matrix, np.log(target) if self.log_target else target)
        self.booster_, self.n_features_ = model.booster_, matrix.shape[1]
        return self

    def fit_raw(self, X: ArrayLike, target: ArrayLike) -> GradientBoosted:
        """Fit on an arbitrary real target (e.g. a log-ratio correction); `predict_raw` returns it."""
        matrix = as_matrix(X)
        model = _lightgbm().LGBMRegressor(random_state=self.seed, n_jobs=1, verbose=-1, **self.params)
        model.fit(matrix, np.asarray(target, dtype=np.float64))
        self.booster_, self.n_features_ = model.booster_, matrix.shape[1]
        return self

    def predict_raw(self, X: ArrayLike) -> np.ndarray:
        if self.booster_ is None:
            raise RuntimeError("GradientBoosted.predict called before fit")
        matrix = as_matrix(X)
        if matrix.shape[1] != self.n_features_:
            raise ValueError(f"X has {matrix.shape[1]} features; this predictor was fitted on {self.n_features_}")
        return self.booster_.predict(matrix, num_threads=1)

    def predict(self, X: ArrayLike) -> np.ndarray:
        raw = self.predict_raw(X)
        return np.exp(raw) if self.log_target else raw

    def _state(self) -> dict[str, Any]:
        if self.booster_ is None:
            raise RuntimeError("cannot save an unfitted GradientBoosted")
        return {"log_target": self.log_target, "seed": self.seed, "params": self.params,
                "n_features": self.n_features_, "model": self.booster_.model_to_string()}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> GradientBoosted:
        model = cls(bool(state["log_target"]), int(state["seed"]), **dict(state["params"]))
        if not isinstance(state["model"], str) or not state["model"].startswith("tree"):
            raise ValueError("'model' is not a LightGBM text model")
        model.booster_ = _lightgbm().Booster(model_str=state["model"])
        model.n_features_ = int(state["n_features"])
        return model
