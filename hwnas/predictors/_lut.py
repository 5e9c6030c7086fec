"""`BlockLookupTable`: measured latency per block key, with a regressor for blocks it never measured.

A key seen in `fit` returns its measurement exactly; other keys go to `fallback` (any predictor, or a
`KernelLevel` over block kinds), so a table of a few thousand blocks still prices every block of a space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hwnas.predictors._base import Predictor, as_matrix, check_fit_data, predictor_from_dict, register_predictor
from hwnas.predictors._kernel import KernelLevel


@register_predictor("block-lut")
class BlockLookupTable(Predictor):
    def __init__(self, fallback: Predictor) -> None:
        self.fallback = fallback
        self.table_: dict[str, float] = {}

    def _fallback_kwargs(self, kinds: Sequence[str] | None) -> dict[str, Any]:
        return {"kinds": kinds} if isinstance(self.fallback, KernelLevel) else {}

    def fit(self, X: ArrayLike, y: ArrayLike, keys: Sequence[str] | None = None,  # type: ignore[override]
            kinds: Sequence[str] | None = None) -> BlockLookupTable:
        matrix, target = check_fit_data(X, y)
        if keys is None or len(keys) != target.size:
            raise ValueError("BlockLookupTable.fit needs keys=, one block key per row")
        self.table_ = {str(k): float(v) for k, v in zip(keys, target)}
        self.fallback.fit(matrix, target, **self._fallback_kwargs(kinds))
        return self

    def predict(self, X: ArrayLike, keys: Sequence[str] | None = None,  # type: ignore[override]
                kinds: Sequence[str] | None = None) -> np.ndarray:
        """Measured ms for known keys, the fallback's prediction for the rest (`keys=None`: all fallback)."""
        matrix = as_matrix(X)
        if keys is not None and len(keys) != matrix.shape[0]:
            raise ValueError(f"{len(keys)} keys for {matrix.shape[0]} rows")
        known = np.array([k in self.table_ for k in keys]) if keys is not None else np.zeros(matrix.shape[0], bool)
        result = np.empty(matrix.shape[0])
        if known.any():
            result[known] = [self.table_[k] for k, hit in zip(keys, known) if hit]  # type: ignore[arg-type]
        if (~known).any():
            rest_kinds = None if kinds is None else np.asarray(kinds, dtype=object)[~known]
            result[~known] = self.fallback.predict(matrix[~known], **self._fallback_kwargs(rest_kinds))
        return result

    def _state(self) -> dict[str, Any]:
        # 6 significant digits: far below measurement noise, and the shipped file stays small
        return {"fallback": self.fallback.to_dict(), "table": {k: float(f"{v:.6g}") for k, v in self.table_.items()}}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> BlockLookupTable:
        model = cls(predictor_from_dict(state["fallback"], "block-lut.fallback"))
        model.table_ = {str(k): float(v) for k, v in dict(state["table"]).items()}
        return model
