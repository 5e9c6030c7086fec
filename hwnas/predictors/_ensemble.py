"""Ensembles: `Residual` (a physical base model times a learned correction) and `Ensemble` (a weighted mean).

`Residual` is what carries on averaged, noisy measurements: the base (e.g. `OpCostLinear` over MACs and
traffic) gets the scale right and extrapolates, and boosted trees learn only the log-ratio the base
misses (kernel efficiency at particular shapes), shrunk towards no correction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hwnas.predictors._base import Predictor, as_matrix, check_fit_data, predictor_from_dict, register_predictor
from hwnas.predictors._gbm import GradientBoosted


@register_predictor("residual")
class Residual(Predictor):
    """`base` predicts from the first `base_features` columns (all when None); `correction` (boosted trees
    over all columns) multiplies it by exp(correction); without one the base alone predicts."""

    def __init__(self, base: Predictor, correction: GradientBoosted | None = None, base_features: int | None = None) -> None:
        self.base = base
        self.correction = correction
        self.base_features = base_features

    def _base_x(self, matrix: np.ndarray) -> np.ndarray:
        return matrix if self.base_features is None else matrix[:, : self.base_features]

    def fit(self, X: ArrayLike, y: ArrayLike) -> Residual:
        matrix, target = check_fit_data(X, y)
        self.base.fit(self._base_x(matrix), target)
        if self.correction is not None:
            base = np.maximum(self.base.predict(self._base_x(matrix)), 1e-9)
            self.correction.fit_raw(matrix, np.log(target / base))
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        matrix = as_matrix(X)
        base = self.base.predict(self._base_x(matrix))
        return base if self.correction is None else base * np.exp(self.correction.predict_raw(matrix))

    def _state(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "correction": None if self.correction is None else self.correction.to_dict(),
                "base_features": self.base_features}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> Residual:
        correction = None if state["correction"] is None else predictor_from_dict(state["correction"], "residual.correction")
        if correction is not None and not isinstance(correction, GradientBoosted):
            raise ValueError("'correction' must be a gradient-boosted predictor")
        base_features = state["base_features"]
        return cls(predictor_from_dict(state["base"], "residual.base"), correction,
                   None if base_features is None else int(base_features))


@register_predictor("ensemble")
class Ensemble(Predictor):
    """Weighted mean of members (equal weights by default), each fitted on the same data."""

    def __init__(self, members: list[Predictor], weights: list[float] | None = None) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        weights = [1.0] * len(members) if weights is None else list(weights)
        if len(weights) != len(members) or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("ensemble weights must be one non-negative number per member, not all zero")
        self.members, self.weights = members, [w / sum(weights) for w in weights]

    def fit(self, X: ArrayLike, y: ArrayLike) -> Ensemble:
        matrix, target = check_fit_data(X, y)
        for member in self.members:
            member.fit(matrix, target)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        matrix = as_matrix(X)
        return sum(w * m.predict(matrix) for w, m in zip(self.weights, self.members))  # type: ignore[return-value]

    def _state(self) -> dict[str, Any]:
        return {"members": [m.to_dict() for m in self.members], "weights": self.weights}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> Ensemble:
        members = [predictor_from_dict(m, f"ensemble.members[{i}]") for i, m in enumerate(state["members"])]
        return cls(members, [float(w) for w in state["weights"]])
