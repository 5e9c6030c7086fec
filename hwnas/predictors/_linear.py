"""`OpCostLinear`: latency as a non-negative sum of per-feature costs (ms per MAC, per byte, per kernel).

With physically grounded features (MACs and memory traffic of each part, kernel counts) every weight
is a unit cost, so the model cannot invent negative time and extrapolates like the hardware does.
Rows are weighted by 1/latency, so the fit minimises relative, not absolute, error; a final factor
(the geometric mean of measured/predicted) removes the downward bias such a fit leaves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hwnas.predictors._base import Predictor, as_matrix, check_fit_data, register_predictor


@register_predictor("op-cost-linear")
class OpCostLinear(Predictor):
    """Non-negative least squares on relative error; `ridge` (≥ 0) shrinks the scaled weights."""

    def __init__(self, ridge: float = 0.0) -> None:
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        self.ridge = float(ridge)
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.gain_: float = 1.0

    def fit(self, X: ArrayLike, y: ArrayLike) -> OpCostLinear:
        from scipy.optimize import nnls  # heavy (0.3 s): only fitting needs it, loading a profile does not

        matrix, target = check_fit_data(X, y)
        if np.any(matrix < 0):
            raise ValueError("op-cost features must be non-negative (counts, MACs, bytes)")
        scale = matrix.max(axis=0)
        scale[scale == 0] = 1.0
        design = matrix / scale / target[:, None]
        rhs = np.ones(target.size)
        if self.ridge:
            design = np.vstack([design, np.sqrt(self.ridge) * np.eye(matrix.shape[1])])
            rhs = np.concatenate([rhs, np.zeros(matrix.shape[1])])
        coef, _ = nnls(design, rhs, maxiter=50 * matrix.shape[1])
        fitted = (matrix / scale) @ coef
        ok = fitted > 0
        self.gain_ = float(np.exp(np.mean(np.log(target[ok] / fitted[ok])))) if ok.any() else 1.0
        self.scale_, self.coef_ = scale, coef
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        if self.coef_ is None or self.scale_ is None:
            raise RuntimeError("OpCostLinear.predict called before fit")
        matrix = as_matrix(X)
        if matrix.shape[1] != self.coef_.size:
            raise ValueError(f"X has {matrix.shape[1]} features; this predictor was fitted on {self.coef_.size}")
        return (matrix / self.scale_) @ self.coef_ * self.gain_

    def _state(self) -> dict[str, Any]:
        if self.coef_ is None or self.scale_ is None:
            raise RuntimeError("cannot save an unfitted OpCostLinear")
        return {"ridge": self.ridge, "scale": self.scale_.tolist(), "coef": self.coef_.tolist(), "gain": self.gain_}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> OpCostLinear:
        model = cls(float(state["ridge"]))
        model.scale_ = np.asarray(state["scale"], dtype=np.float64)
        model.coef_ = np.asarray(state["coef"], dtype=np.float64)
        model.gain_ = float(state["gain"])
        if model.scale_.shape != model.coef_.shape or model.coef_.ndim != 1:
            raise ValueError("'scale' and 'coef' must be lists of equal length")
        return model
