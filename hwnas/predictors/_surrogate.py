"""`SurrogateEnsemble`: a score surrogate (accuracy, mAP, BLEU) with an uncertainty, for predictor-in-the-loop search.

A search that pays seconds per evaluated subnet needs to know both what an unseen subnet would score and how sure
that guess is. The ensemble answers both: each member is fitted on its own bootstrap resample of the evaluated
subnets (gradient-boosted trees, and with `mlp` a small MLP beside them: on inherited accuracy the MLP ranked no
better than the trees alone and took ten times as long to fit), the prediction is the members' mean and the
uncertainty their spread. Targets are any finite numbers; they are standardised for fitting. Saved as JSON like
every predictor (LightGBM's text models, the MLPs' weights), never pickled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hwnas.predictors._base import Predictor, as_matrix, predictor_from_dict, register_predictor
from hwnas.predictors._gbm import GradientBoosted
from hwnas.predictors._mlp import ArchMLP

#: Trees for tens to hundreds of rows: shallow, few rows per leaf, shrunk.
SMALL_DATA_TREES: dict[str, Any] = dict(n_estimators=300, learning_rate=0.05, num_leaves=7, min_child_samples=3,
                                        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0)
#: One hidden layer of 64 trained full-batch: enough for a smooth score, fast to refit every round.
SMALL_MLP: dict[str, Any] = dict(hidden_dim=64, hidden_layers=1, lr=3e-3, steps=400, batch_size=1024)
#: The MLP fits a positive target (its output scale is the target's maximum): standardised scores, clipped
#: below at -`_MLP_SHIFT` + 0.5 (3.5 standard deviations under the mean), shifted by this.
_MLP_SHIFT = 4.0


def check_scores(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Rows and finite scores of equal length (a score may be zero or negative, unlike a latency)."""
    matrix, target = as_matrix(X), np.asarray(y, dtype=np.float64).ravel()
    if matrix.shape[0] != target.size:
        raise ValueError(f"X has {matrix.shape[0]} rows but y has {target.size} scores")
    if target.size < 2:
        raise ValueError(f"a surrogate needs at least two evaluated subnets, got {target.size}")
    if not np.all(np.isfinite(matrix)) or not np.all(np.isfinite(target)):
        raise ValueError("features and scores must be finite numbers")
    return matrix, target


@register_predictor("surrogate-ensemble")
class SurrogateEnsemble(Predictor):
    """`members` bootstrap resamples, each fitted by boosted trees and (with `mlp`) a small MLP.

    `predict` is the mean over every fitted model; `predict_with_spread` adds the standard deviation of
    the members' predictions (each member the mean of its models), the surrogate's uncertainty.
    """

    def __init__(self, members: int = 5, mlp: bool = False, seed: int = 0, about: dict[str, Any] | None = None) -> None:
        if members < 2:
            raise ValueError(f"an ensemble that measures its spread needs at least 2 members, got {members}")
        self.members, self.mlp, self.seed = int(members), bool(mlp), int(seed)
        #: What the rows and the target are (space, feature names, metric, provenance), saved with the model.
        self.about: dict[str, Any] = dict(about or {})
        self.center_, self.scale_ = 0.0, 1.0
        self.models_: list[list[Predictor]] = []  # per member: its fitted models

    def fit(self, X: ArrayLike, y: ArrayLike) -> SurrogateEnsemble:
        matrix, target = check_scores(X, y)
        self.center_, self.scale_ = float(target.mean()), float(target.std()) or 1.0
        standard = (target - self.center_) / self.scale_
        rng = np.random.default_rng(self.seed)
        self.models_ = []
        for member in range(self.members):
            rows = rng.integers(0, len(standard), len(standard))  # the member's bootstrap resample
            trees = GradientBoosted(log_target=False, seed=self.seed + member, **SMALL_DATA_TREES)
            models: list[Predictor] = [trees.fit_raw(matrix[rows], standard[rows])]
            if self.mlp:
                net = ArchMLP(seed=self.seed + member, **SMALL_MLP)
                models.append(net.fit(matrix[rows], np.maximum(standard[rows], 0.5 - _MLP_SHIFT) + _MLP_SHIFT))
            self.models_.append(models)
        return self

    def _member_predictions(self, X: ArrayLike) -> np.ndarray:
        """(members × rows) standardised predictions."""
        if not self.models_:
            raise RuntimeError("SurrogateEnsemble.predict called before fit")
        matrix = as_matrix(X)
        out = np.empty((len(self.models_), matrix.shape[0]))
        for i, models in enumerate(self.models_):
            parts = [m.predict_raw(matrix) if isinstance(m, GradientBoosted) else m.predict(matrix) - _MLP_SHIFT
                     for m in models]
            out[i] = np.mean(parts, axis=0)
        return out

    def predict_with_spread(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(mean, standard deviation) per row, in the target's units."""
        members = self._member_predictions(X)
        return members.mean(axis=0) * self.scale_ + self.center_, members.std(axis=0) * self.scale_

    def predict(self, X: ArrayLike) -> np.ndarray:
        return self.predict_with_spread(X)[0]

    def _state(self) -> dict[str, Any]:
        if not self.models_:
            raise RuntimeError("cannot save an unfitted SurrogateEnsemble")
        return {"members": self.members, "mlp": self.mlp, "seed": self.seed, "about": self.about, "center": self.center_,
                "scale": self.scale_, "models": [[m.to_dict() for m in models] for models in self.models_]}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> SurrogateEnsemble:
        about = state.get("about") or {}
        if not isinstance(about, dict):
            raise ValueError("'about' must be an object")
        model = cls(int(state["members"]), bool(state["mlp"]), int(state["seed"]), about)
        model.center_, model.scale_ = float(state["center"]), float(state["scale"])
        model.models_ = [[predictor_from_dict(m, f"surrogate-ensemble.models[{i}]") for m in models]
                         for i, models in enumerate(state["models"])]
        want = 2 if model.mlp else 1
        if len(model.models_) != model.members or any(len(models) != want for models in model.models_):
            raise ValueError(f"'models' must hold {model.members} members of {want} models each")
        return model
