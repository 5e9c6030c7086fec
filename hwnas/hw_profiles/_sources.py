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

from hwnas.errors import OutOfDomainError
from hwnas.hw_profiles._arch_csv import read_arch_csv
from hwnas.hw_profiles._calibrate_hat import calibrate_hat_csv, hat_source
from hwnas.hw_profiles._calibrate_nnmeter import calibrate_nnmeter_lut
from hwnas.hw_profiles._calibrate_op_level import Measured, calibrate_arch_csv, calibrate_help_csv
from hwnas.hw_profiles._help import help_space, read_help_csv
from hwnas.hw_profiles._nnmeter import read_nnmeter_lut
from hwnas.hw_profiles._predict import has_op_model, nnmeter_keys_ms, op_level_domain, op_model, predict_archs_ms
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.registry import Registry
from hwnas.search_spaces import get_space

#: (one JSON row per measurement, predicted ms, measured ms)
Scored = tuple[list[dict[str, Any]], np.ndarray, np.ndarray]


@dataclass(frozen=True)
class CalibrationSource:
    calibrate: Callable[..., tuple[Profile, LatencyModel]]  # (file, device=, kind=, runtime=) -> profile, model
    score: Callable[..., Scored]  # (profile, file, column=) -> rows, predicted, measured
    #: Files of this format hold subnets of a space (`--space` is checked against it) and one column per device.
    has_spaces: bool = False
    #: Files of this format hold subnets of the space `--space` names (a user's own CSV).
    space_option: bool = False
    #: Several files of this format (one device's) make one profile: `calibrate` takes the list.
    many_files: bool = False


def source_ms(profile: Profile, source: Measured) -> np.ndarray:
    """A calibration source's rows priced as they were timed: archs of its space's own workload as that space's
    archs (any profile); other workloads (HAT's IWSLT rows) by their ops, on a profile that prices ops."""
    if source.space is not None and source.own_workload:
        return predict_archs_ms(profile, source.space, source.archs)
    if not has_op_model(profile):
        raise OutOfDomainError(f"{source.label}'s rows are ops as they were timed; profile {profile.device!r} "
                               f"({profile.domain.get('features')}) prices archs of its spaces, not ops")
    domain = op_level_domain(profile)
    rows = domain.blocks_rows(source.blocks(), overhead=float(source.whole))[0]
    return op_model(profile).predict(rows)


def _score_hat(profile: Profile, file: Path) -> Scored:
    source = hat_source(file)
    predicted, measured = source_ms(profile, source), source.latency_ms
    rows = [{"row": i, "predicted_ms": float(p), "measured_ms": float(m)} for i, (p, m) in enumerate(zip(predicted, measured))]
    return rows, predicted, measured


def _score_help(profile: Profile, file: Path, column: str | None = None) -> Scored:
    """HELP rows priced as archs of the file's space, against `column` (default: the column the profile was fitted
    on from a file of this name, else its first)."""
    data = read_help_csv(file)
    sources = profile.provenance.get("sources") or [{}]
    fitted = next((s for s in sources if str(s.get("label", "")).startswith(f"{data.path.name}:")), sources[0])
    column = column or str(fitted.get("column") or "")
    measured = data.column(column)
    space = get_space(data.space)
    predicted = predict_archs_ms(profile, space, [space.validate(a) for a in data.archs])
    rows = [{"index": i, "predicted_ms": float(p), "measured_ms": float(m)} for i, p, m in zip(data.index, predicted, measured)]
    return rows, predicted, measured


def _score_arch_csv(profile: Profile, file: Path, column: str | None = None) -> Scored:
    """A user's CSV priced as archs of the space the profile was fitted on, against `column` (default: its own)."""
    fitted = (profile.domain.get("spaces") or [{}])[0]
    space = get_space(str(fitted.get("space")), fitted.get("preset"))
    column = column or str((profile.provenance.get("sources") or [{}])[0].get("column") or "")
    archs, measured = read_arch_csv(file, space, column)
    predicted = predict_archs_ms(profile, space, archs)
    rows = [{"arch_id": a.id, "predicted_ms": float(p), "measured_ms": float(m)} for a, p, m in zip(archs, predicted, measured)]
    return rows, predicted, measured


def space_of(source: str, file: Path) -> str | None:
    """The space a file's rows are subnets of (None for formats without one)."""
    return help_space(file) if CALIBRATION_SOURCES.get(source).has_spaces else None


def _score_lut(profile: Profile, file: Path) -> Scored:
    lut = read_nnmeter_lut(file)
    predicted, measured = nnmeter_keys_ms(profile, lut.keys), lut.latency_ms
    rows = [{"key": k, "kind": kd, "predicted_ms": float(p), "measured_ms": float(m)}
            for k, kd, p, m in zip(lut.keys, lut.kinds, predicted, measured)]
    return rows, predicted, measured


CALIBRATION_SOURCES: Registry[CalibrationSource] = Registry("calibration source")
CALIBRATION_SOURCES.register("hat-csv", CalibrationSource(calibrate_hat_csv, _score_hat, many_files=True),
                             summary="HAT's SubTransformer latency CSVs (one device; several files make one fit)")
CALIBRATION_SOURCES.register("help-csv", CalibrationSource(calibrate_help_csv, _score_help, has_spaces=True),
                             summary="HELP's latency CSV of measured subnets (ofa-mbv3), one column per device")
CALIBRATION_SOURCES.register("arch-csv", CalibrationSource(calibrate_arch_csv, _score_arch_csv, space_option=True),
                             summary="your own CSV: an 'arch' JSON column and one latency column (ms) per device")
CALIBRATION_SOURCES.register("nnmeter-lut", CalibrationSource(calibrate_nnmeter_lut, _score_lut),
                             summary="nn-Meter's TFLite block table JSON (one phone per file)")
