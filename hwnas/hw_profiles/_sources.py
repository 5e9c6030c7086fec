"""Calibration sources: public measurement formats a profile can be fitted on and scored against.

Each entry reads one format, fits a profile on it (`hwnas profile calibrate --source NAME`), and prices
its rows with a profile next to the latencies the file holds (`hwnas profile predict --source NAME`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.hw_profiles._calibrate_hat import calibrate_hat_csv
from hwnas.hw_profiles._calibrate_nnmeter import calibrate_nnmeter_lut
from hwnas.hw_profiles._hat import read_hat_csv
from hwnas.hw_profiles._nnmeter import read_nnmeter_lut
from hwnas.hw_profiles._predict import hat_rows_ms, nnmeter_keys_ms
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.registry import Registry

#: (one JSON row per measurement, predicted ms, measured ms)
Scored = tuple[list[dict[str, Any]], np.ndarray, np.ndarray]


@dataclass(frozen=True)
class CalibrationSource:
    calibrate: Callable[..., tuple[Profile, LatencyModel]]  # (file, device=, kind=, runtime=) -> profile, model
    score: Callable[[Profile, Path], Scored]


def _score_hat(profile: Profile, file: Path) -> Scored:
    data = read_hat_csv(file)
    predicted, measured = hat_rows_ms(profile, data.features), data.total_ms
    rows = [{"row": i, "predicted_ms": float(p), "measured_ms": float(m)} for i, (p, m) in enumerate(zip(predicted, measured))]
    return rows, predicted, measured


def _score_lut(profile: Profile, file: Path) -> Scored:
    lut = read_nnmeter_lut(file)
    predicted, measured = nnmeter_keys_ms(profile, lut.keys), lut.latency_ms
    rows = [{"key": k, "kind": kd, "predicted_ms": float(p), "measured_ms": float(m)}
            for k, kd, p, m in zip(lut.keys, lut.kinds, predicted, measured)]
    return rows, predicted, measured


CALIBRATION_SOURCES: Registry[CalibrationSource] = Registry("calibration source")
CALIBRATION_SOURCES.register("hat-csv", CalibrationSource(calibrate_hat_csv, _score_hat),
                             summary="HAT's SubTransformer latency CSV (one device per file)")
CALIBRATION_SOURCES.register("nnmeter-lut", CalibrationSource(calibrate_nnmeter_lut, _score_lut),
                             summary="nn-Meter's TFLite block table JSON (one phone per file)")
