"""`KernelLevel`: one regressor per op (kernel) kind over that kind's shape features — nn-Meter's method.

Rows are ops (or fused blocks); `kinds` names each row's kind. Each kind reads the first `width` columns
of its rows (features of kinds with fewer features are zero-padded by the caller), so one matrix holds
every kind. A model's latency is the sum of its ops' predictions (`predict_sum`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hwnas.errors import OutOfDomainError
from hwnas.predictors._base import Predictor, as_matrix, check_fit_data, predictor_from_dict, register_predictor
from hwnas.predictors._gbm import GradientBoosted


@register_predictor("kernel-level")
class KernelLevel(Predictor):
    """`make(kind)` builds the regressor of each kind seen in `fit`; `widths[kind]` its feature count."""

    def __init__(self, make: Callable[[str], Predictor] | None = None, widths: dict[str, int] | None = None) -> None:
        self.make = make or (lambda kind: GradientBoosted())
        self.widths: dict[str, int] = dict(widths or {})
        self.models_: dict[str, Predictor] = {}

    def _kinds(self, kinds: Sequence[str] | np.ndarray, rows: int) -> np.ndarray:
        kinds = np.asarray(kinds, dtype=object)
        if kinds.shape != (rows,):
            raise ValueError(f"kinds must name the kind of each of the {rows} rows, got {kinds.shape[0]} names")
        return kinds

    def fit(self, X: ArrayLike, y: ArrayLike, kinds: Sequence[str] | None = None) -> KernelLevel:  # type: ignore[override]
        matrix, target = check_fit_data(X, y)
        if kinds is None:
            raise ValueError("KernelLevel.fit needs kinds=, the op kind of every row")
        kinds = self._kinds(kinds, matrix.shape[0])
        self.models_ = {}
        for kind in sorted(set(kinds)):
            mask = kinds == kind
            width = self.widths.setdefault(kind, matrix.shape[1])
            self.models_[kind] = self.make(kind).fit(matrix[mask, :width], target[mask])
        return self

    def predict(self, X: ArrayLike, kinds: Sequence[str] | None = None) -> np.ndarray:  # type: ignore[override]
        if not self.models_:
            raise RuntimeError("KernelLevel.predict called before fit")
        matrix = as_matrix(X)
        if kinds is None:
            raise ValueError("KernelLevel.predict needs kinds=, the op kind of every row")
        kinds = self._kinds(kinds, matrix.shape[0])
        result = np.empty(matrix.shape[0])
        for kind in set(kinds):
            if kind not in self.models_:
                raise OutOfDomainError(f"op kind {kind!r} is outside this predictor's domain: {', '.join(sorted(self.models_))}")
            mask = kinds == kind
            result[mask] = self.models_[kind].predict(matrix[mask, : self.widths[kind]])
        return result

    def predict_sum(self, X: ArrayLike, kinds: Sequence[str], sample: Sequence[int]) -> np.ndarray:
        """Latency per sample: the sum over its ops; `sample[i]` is the sample index of row i."""
        sample = np.asarray(sample, dtype=np.int64)
        return np.bincount(sample, weights=self.predict(X, kinds), minlength=int(sample.max()) + 1 if sample.size else 0)

    def _state(self) -> dict[str, Any]:
        return {"widths": self.widths, "models": {k: m.to_dict() for k, m in self.models_.items()}}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> KernelLevel:
        model = cls(widths={str(k): int(v) for k, v in state["widths"].items()})
        model.models_ = {str(k): predictor_from_dict(v, f"kernel-level.models.{k}") for k, v in state["models"].items()}
        missing = set(model.models_) - set(model.widths)
        if missing:
            raise ValueError(f"'widths' lacks kind {sorted(missing)[0]!r}")
        return model
