"""`LogLinearRidge`: a positive quantity as exp(linear in standardised features), ridge-shrunk.

Meant for a few dozen samples, where a tree ensemble or an MLP memorises: a few-shot profile's correction
factor (measured / mixed latency) over an arch's summary features. The shrinkage is chosen among a grid by
exact leave-one-out error (ridge regression's hat-matrix identity), so no sample is fitted to itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hwnas.predictors._base import Predictor, as_matrix, check_fit_data, register_predictor

#: Shrinkage strengths tried (per standardised feature, relative to the number of samples).
RIDGE_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def _design(z: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((len(z), 1)), z])


def ridge_solution(z: np.ndarray, target: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (intercept first, unpenalised) and the exact leave-one-out residuals of ridge on `z`."""
    design = _design(z)
    penalty = ridge * len(z) * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    inverse = np.linalg.pinv(design.T @ design + penalty)
    coef = inverse @ design.T @ target
    leverage = np.einsum("ij,jk,ik->i", design, inverse, design)
    residual = target - design @ coef
    return coef, residual / np.maximum(1.0 - leverage, 1e-9)


@register_predictor("log-linear-ridge")
class LogLinearRidge(Predictor):
    """log y ≈ b + z·β with z the standardised features; `ridge` None picks it from `RIDGE_GRID` by
    leave-one-out squared error in log space."""

    def __init__(self, ridge: float | None = None) -> None:
        if ridge is not None and ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        self.ridge = ridge
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.loo_rmse_: float = float("nan")

    def fit(self, X: ArrayLike, y: ArrayLike) -> LogLinearRidge:
        matrix, target = check_fit_data(X, y)
        mean, scale = matrix.mean(axis=0), matrix.std(axis=0)
        scale[scale < 1e-12] = 1.0  # a constant feature: standardised to zeros, it carries no weight
        z, log_target = (matrix - mean) / scale, np.log(target)
        grid = RIDGE_GRID if self.ridge is None else (self.ridge,)
        fits = [(ridge, *ridge_solution(z, log_target, ridge)) for ridge in grid]
        ridge, coef, loo = min(fits, key=lambda fit: float(np.mean(fit[2] ** 2)))
        self.ridge, self.mean_, self.scale_, self.coef_ = ridge, mean, scale, coef
        self.loo_rmse_ = float(np.sqrt(np.mean(loo ** 2)))
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        if self.coef_ is None or self.mean_ is None or self.scale_ is None:
            raise RuntimeError("LogLinearRidge.predict called before fit")
        matrix = as_matrix(X)
        if matrix.shape[1] != self.mean_.size:
            raise ValueError(f"X has {matrix.shape[1]} features; this predictor was fitted on {self.mean_.size}")
        return np.exp(_design((matrix - self.mean_) / self.scale_) @ self.coef_)

    def _state(self) -> dict[str, Any]:
        if self.coef_ is None or self.mean_ is None or self.scale_ is None:
            raise RuntimeError("cannot save an unfitted LogLinearRidge")
        return {"ridge": self.ridge, "mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
                "coef": self.coef_.tolist(), "loo_rmse": self.loo_rmse_}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> LogLinearRidge:
        model = cls(float(state["ridge"]))
        model.mean_ = np.asarray(state["mean"], dtype=np.float64)
        model.scale_ = np.asarray(state["scale"], dtype=np.float64)
        model.coef_ = np.asarray(state["coef"], dtype=np.float64)
        model.loo_rmse_ = float(state.get("loo_rmse", float("nan")))
        if model.mean_.shape != model.scale_.shape or model.coef_.shape != (model.mean_.size + 1,):
            raise ValueError("'mean' and 'scale' must be equal-length lists and 'coef' one longer (the intercept)")
        return model
