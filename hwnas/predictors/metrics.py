"""Validation figures of a latency predictor: RMSE, MAPE, share within ±5%/±10%, Kendall τ.

All take measured `y_true` and predicted `y_pred` in milliseconds (any array-likes of equal length).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true, dtype=np.float64).ravel(), np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}")
    if t.size == 0:
        raise ValueError("metrics need at least one measurement")
    return t, p


def rmse_ms(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute percentage error as a fraction (0.05 = 5%)."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t) / np.abs(t)))


def within(y_true: ArrayLike, y_pred: ArrayLike, tolerance: float) -> float:
    """Share of predictions whose relative error is at most `tolerance` (0.1 = ±10%)."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(p - t) <= tolerance * np.abs(t) * (1 + 1e-12)))


def acc5(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    return within(y_true, y_pred, 0.05)


def acc10(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    return within(y_true, y_pred, 0.10)


def kendall_tau(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Kendall's τ-b (ties in either ranking handled as scipy does); nan for fewer than two values."""
    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return float("nan")
    concordant = discordant = ties_t = ties_p = 0
    for start in range(0, t.size - 1, 512):  # blocks of rows keep memory at O(512·n)
        i = np.arange(start, min(start + 512, t.size - 1))
        j = np.arange(t.size)
        mask = j[None, :] > i[:, None]
        dt = np.sign(t[None, :] - t[i, None])[mask]
        dp = np.sign(p[None, :] - p[i, None])[mask]
        prod = dt * dp
        concordant += int(np.sum(prod > 0))
        discordant += int(np.sum(prod < 0))
        ties_t += int(np.sum((dt == 0) & (dp != 0)))
        ties_p += int(np.sum((dp == 0) & (dt != 0)))
    denominator = np.sqrt(float(concordant + discordant + ties_t) * float(concordant + discordant + ties_p))
    return float((concordant - discordant) / denominator) if denominator else float("nan")


def summary(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """Every figure at once, with the number of measurements `n`; the keys a profile's validation holds."""
    t, p = _pair(y_true, y_pred)
    return {"n": int(t.size), "rmse_ms": rmse_ms(t, p), "mape": mape(t, p), "acc5": acc5(t, p),
            "acc10": acc10(t, p), "kendall_tau": kendall_tau(t, p)}


__all__ = ["acc10", "acc5", "kendall_tau", "mape", "rmse_ms", "summary", "within"]
