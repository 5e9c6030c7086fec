"""Latency predictors: sklearn-like `fit`/`predict` over feature rows, batched, saved as JSON (never pickle).

Kinds (registry names): `block-lut` (lookup table with a regressor fallback), `kernel-level` (one
regressor per op kind, nn-Meter's method), `arch-mlp` (HAT's method), `gradient-boosted`,
`op-cost-linear` (non-negative unit costs of MACs/traffic/kernels), `log-linear-ridge` (a positive factor from
a few dozen samples), `residual` and `ensemble`; and
`surrogate-ensemble`, the score surrogate (accuracy, mAP, BLEU) with an uncertainty that surrogate search uses.
"""

from hwnas.predictors import metrics
from hwnas.predictors._base import (
    PREDICTOR_FORMAT_VERSION,
    PREDICTORS,
    Predictor,
    list_predictors,
    load_predictor,
    predictor_class,
    predictor_from_dict,
    register_predictor,
    save_predictor,
)
from hwnas.predictors._ensemble import Ensemble, Residual
from hwnas.predictors._gbm import GradientBoosted
from hwnas.predictors._kernel import KernelLevel
from hwnas.predictors._linear import OpCostLinear
from hwnas.predictors._log_ridge import LogLinearRidge
from hwnas.predictors._lut import BlockLookupTable
from hwnas.predictors._mlp import ArchMLP
from hwnas.predictors._surrogate import SurrogateEnsemble

__all__ = [
    "PREDICTOR_FORMAT_VERSION", "ArchMLP", "BlockLookupTable", "Ensemble", "GradientBoosted", "KernelLevel",
    "LogLinearRidge", "OpCostLinear", "PREDICTORS", "Predictor", "Residual", "SurrogateEnsemble", "list_predictors", "load_predictor", "metrics", "predictor_class",
    "predictor_from_dict", "register_predictor", "save_predictor",
]
