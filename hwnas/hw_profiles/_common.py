"""Pieces every calibration shares: held-out splits, provenance of a data file, model selection."""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hwnas.predictors import Predictor, metrics

SPLIT_SEED = 0
TEST_FRACTION = 0.2
#: Largest change of a machine's speed (median ratio over re-measured subnets) a validation accepts.
DEFAULT_MAX_DRIFT = 0.05
#: Measuring sessions run their rounds in this many blocks, this many seconds apart (see `_timing.subnet_samples`).
DEFAULT_BLOCKS, DEFAULT_PAUSE_S = 3, 10.0
#: Devices this machine measures -> their torch device.
DEVICES = {"local-cpu": "cpu", "local-gpu": "cuda"}


def split_indices(n: int, seed: int = SPLIT_SEED, test_fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test split (the validation figures of every profile use seed 0, 80/20)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(test_fraction * n))) if n > 1 else 0
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def file_provenance(path: Path) -> dict[str, str]:
    """File name, sha256 and the licence named by a LICENSE file beside it (the data's own licence)."""
    licence = "unknown (no LICENSE file beside the data)"
    for name in ("LICENSE", "LICENSE.txt", "LICENCE", "COPYING"):
        candidate = path.parent / name
        if candidate.is_file():
            text = candidate.read_text(errors="replace")
            match = re.search(r"\b(MIT|Apache[- ]2\.0|BSD[- ]\d-Clause|CC[- ]BY[- A-Z0-9.]*)\b", text)
            licence = f"{match.group(1)} ({candidate.name} beside the data)" if match else f"see {candidate.name} beside the data"
            break
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "licence": licence}


def today() -> str:
    return _dt.date.today().isoformat()


def cross_validated(make: Callable[[], Predictor], X: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predictions of `make()` (k-fold), for choosing between candidate predictors."""
    perm = np.random.default_rng(seed).permutation(len(y))
    out = np.empty(len(y))
    for k in range(folds):
        test = perm[k::folds]
        train = np.setdiff1d(perm, test)
        out[test] = make().fit(X[train], y[train]).predict(X[test])
    return out


def score(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """What model selection maximises: share within ±10%, then Kendall τ."""
    return metrics.acc10(y, pred), metrics.kendall_tau(y, pred)
