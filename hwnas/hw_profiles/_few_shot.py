"""Few-shot profiles: a new device from a handful of its measured subnets and the profiles hwnas already has.

Devices differ, but mostly in how they weigh the same work: a phone's CPU is a mix of what other CPUs and
phones spend on convolutions, memory and launches. So a new device's latency is modelled as a non-negative
mix of base profiles' predictions, `ms(arch) = Σ_b w_b · ms_b(arch)`, fitted on relative error (NNLS, a
small ridge) over the N measured subnets. The weights are the whole fitted model; predicting goes through the
bases, so the new device prices every space all of its bases price, not only the one it was measured on.

As N grows the mix's own errors show a pattern (a phone slower than any base at wide layers, a board whose
decoder steps cost more than its bases'), so from `CORRECTION_MIN` measurements on a correction factor is
fitted over the measured space's arch summary (`encode_summary`) and the log-ms of the mix and of each base it
uses: a ridge-shrunk log-linear model (`LogLinearRidge`). It is kept only when leave-one-out says it beats the
mix alone, and it applies only to subnets of the space it was measured on; other spaces are priced by the mix.
The error estimate stored with the profile is leave-one-out over the N measurements (each left out, the
mix and correction refitted).

Which N subnets to measure matters when N is 10: `suggest_archs` spreads them over the bases' predictions
(farthest-point sampling in standardised log-ms per base), covering both the predicted range and where the
bases disagree. Measured over HELP's devices leave-one-device-out in `benchmarks/few_shot.py`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import DataFileError, HwnasError, OutOfDomainError, ProfileError
from hwnas.hw_profiles._arch_csv import ARCH_COLUMN, read_arch_csv
from hwnas.hw_profiles._common import file_provenance, today
from hwnas.hw_profiles._csv import csv_records, positive
from hwnas.hw_profiles._help import read_help_csv
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.hw_profiles._registry import get_profile, shipped_profile_names
from hwnas.predictors import LogLinearRidge, OpCostLinear, metrics
from hwnas.search_spaces import Arch

FEATURE_SET = "few-shot-mix-v1"
#: Fewest measured subnets a mix is fitted on (and left-one-out validated with).
MIN_MEASUREMENTS = 5
#: Shrinkage of the mix weights (relative to one measured subnet's squared relative error).
RIDGE = 1e-3
#: From this many measured subnets on, a correction of the mix is fitted (and kept where it helps).
CORRECTION_MIN = 20


# -- the mix -----------------------------------------------------------------------------------------


def fit_mix(base_ms: np.ndarray, measured_ms: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Non-negative weights w minimising Σ_i (Σ_b w_b P_ib / y_i − 1)² + ridge·|w|²."""
    from scipy.optimize import nnls  # heavy: only fitting needs it

    rows = base_ms / measured_ms[:, None]
    k = base_ms.shape[1]
    design = np.vstack([rows, np.sqrt(ridge) * np.eye(k)])
    weights, _ = nnls(design, np.concatenate([np.ones(len(measured_ms)), np.zeros(k)]), maxiter=50 * k)
    return weights


def leave_one_out(base_ms: np.ndarray, measured_ms: np.ndarray) -> np.ndarray:
    """Each measured subnet's prediction by the mix fitted on the others."""
    out = np.empty(len(measured_ms))
    for i in range(len(measured_ms)):
        keep = np.arange(len(measured_ms)) != i
        out[i] = base_ms[i] @ fit_mix(base_ms[keep], measured_ms[keep])
    return out


def correction_rows(features: np.ndarray, base_ms: np.ndarray, mixed_ms: np.ndarray) -> np.ndarray:
    """The correction's inputs: each arch's summary features, each base's log-ms and the mix's (a bias that
    depends on the level, or on which base the device resembles where)."""
    logs = np.log(np.maximum(np.column_stack([base_ms, mixed_ms]), 1e-12))
    return np.hstack([np.asarray(features, dtype=np.float64), logs])


def _fit_correction(base_ms: np.ndarray, features: np.ndarray, measured_ms: np.ndarray,
                    weights: np.ndarray) -> LogLinearRidge:
    mixed = base_ms @ weights
    return LogLinearRidge().fit(correction_rows(features, base_ms, mixed), measured_ms / np.maximum(mixed, 1e-12))


def _log_error(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.log(np.maximum(predicted, 1e-12) / truth) ** 2))


@dataclass
class FewShotFit:
    """The mix over the bases it uses (`used`: their columns), the correction when one was kept (it reads
    those bases' log-ms), and leave-one-out predictions of the chosen model and of the mix alone."""

    used: np.ndarray
    weights: np.ndarray  # one per used base
    correction: LogLinearRidge | None
    held_out: np.ndarray
    mix_held_out: np.ndarray

    def predict(self, base_ms: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """Latency of rows whose every base's prediction is a column of `base_ms`."""
        return self.predict_used(base_ms[:, self.used], features)

    def predict_used(self, used_ms: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """Latency from the used bases' predictions only (what a stored profile has)."""
        return _priced(used_ms, self.weights, self.correction, features)


def _priced(used_ms: np.ndarray, weights: np.ndarray, correction: LogLinearRidge | None,
            features: np.ndarray | None) -> np.ndarray:
    mixed = used_ms @ weights
    if correction is None or features is None:
        return mixed
    return mixed * correction.predict(correction_rows(features, used_ms, mixed))


def fit_few_shot(base_ms: np.ndarray, measured_ms: np.ndarray, features: np.ndarray | None = None) -> FewShotFit:
    """The mix of `base_ms` columns for `measured_ms`, corrected over `features` (arch rows) when there are at
    least `CORRECTION_MIN` measurements and the corrected model's leave-one-out error is the lower."""
    weights, mix_held_out = fit_mix(base_ms, measured_ms), leave_one_out(base_ms, measured_ms)
    used = np.flatnonzero(weights > 0)
    plain = FewShotFit(used, weights[used], None, mix_held_out, mix_held_out)
    if features is None or len(measured_ms) < CORRECTION_MIN or not len(used):
        return plain
    features, used_ms = np.asarray(features, dtype=np.float64), base_ms[:, used]
    corrected = np.empty(len(measured_ms))
    for i in range(len(measured_ms)):  # the mix and the correction refitted without each measurement
        keep = np.arange(len(measured_ms)) != i
        fold_weights = fit_mix(used_ms[keep], measured_ms[keep])
        fold_correction = _fit_correction(used_ms[keep], features[keep], measured_ms[keep], fold_weights)
        corrected[i] = _priced(used_ms[i:i + 1], fold_weights, fold_correction, features[i:i + 1])[0]
    if _log_error(measured_ms, corrected) >= _log_error(measured_ms, mix_held_out):
        return plain
    return FewShotFit(used, weights[used], _fit_correction(used_ms, features, measured_ms, weights[used]),
                      corrected, mix_held_out)


def candidate_bases(space: Any, archs: Sequence[Any], names: Sequence[str] | None = None,
                    exclude: Sequence[str] = ()) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """The base profiles (shipped ones by default, or `names`) that price every one of `archs`, their
    predictions (archs × bases), and why each other one was left out."""
    from hwnas.hw_profiles._predict import predict_archs_ms  # it registers this module's pricing: imported late

    chosen, columns, skipped = [], [], {}
    for name in names or shipped_profile_names():
        if name in exclude:
            continue
        profile = get_profile(name)
        if profile.domain.get("features") == FEATURE_SET:
            skipped[name] = "a few-shot profile itself"
            continue
        try:
            columns.append(predict_archs_ms(profile, space, archs))
            chosen.append(name)
        except HwnasError as exc:  # out of its domain, or a profile that does not load
            skipped[name] = str(exc).splitlines()[0]
    if not chosen:
        raise ProfileError(f"no base profile prices {space.name}/{space.preset}'s subnets"
                           + (f" ({'; '.join(f'{k}: {v}' for k, v in list(skipped.items())[:3])})" if skipped else ""))
    return chosen, np.stack(columns, axis=1), skipped


# -- which subnets to measure --------------------------------------------------------------------------


def spread_indices(base_ms: np.ndarray, n: int) -> list[int]:
    """`n` rows of `base_ms` far apart in standardised log-ms per base: first the most typical, then each
    time the row farthest from those chosen (farthest-point sampling)."""
    logs = np.log(np.maximum(base_ms, 1e-12))
    points = (logs - logs.mean(axis=0)) / (logs.std(axis=0) + 1e-12)
    first = int(np.argmin(np.linalg.norm(points - np.median(points, axis=0), axis=1)))
    chosen, distance = [first], np.linalg.norm(points - points[first], axis=1)
    while len(chosen) < min(n, len(points)):
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(points - points[nxt], axis=1))
    return chosen


def suggest_archs(space: Any, n: int, bases: Sequence[str] | None = None, pool: int = 1000, seed: int = 0) -> list[Arch]:
    """`n` subnets of `space` worth measuring for a few-shot profile (out of `pool` random ones)."""
    if n < 1:
        raise ProfileError(f"-n {n}: suggest at least one subnet")
    rng = random.Random(seed)
    candidates = list({a.id: a for a in (space.sample(rng) for _ in range(max(pool, n)))}.values())
    _, base_ms, _ = candidate_bases(space, candidates, bases)
    return [candidates[i] for i in spread_indices(base_ms, n)]


# -- the measurements file --------------------------------------------------------------------------


def read_measurements(path: str | Path, space: Any, column: str | None = None) -> tuple[list[Arch], np.ndarray]:
    """N measured subnets of `space`: JSON lines `{"arch": {...}, "ms": 12.3}`, a CSV with an `arch` column of
    arch JSON and a latency column, or HELP's CSV layout (`--source help-csv`'s files) and a device column."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    if path.suffix in (".jsonl", ".json"):
        archs, ms = _read_jsonl(path, space)
    else:
        archs, ms = _read_csv(path, space, column)
    if len(archs) < MIN_MEASUREMENTS:
        raise DataFileError(f"{path}: {len(archs)} measured subnets; a few-shot profile needs at least {MIN_MEASUREMENTS}")
    return archs, ms


def _read_jsonl(path: Path, space: Any) -> tuple[list[Arch], np.ndarray]:
    archs, values = [], []
    for line_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise DataFileError(f"{path}: line {line_no} is not JSON") from None
        if not isinstance(record, dict) or "arch" not in record or "ms" not in record:
            raise DataFileError(f"{path}: line {line_no}: expected an object with 'arch' and 'ms'")
        try:
            archs.append(space.validate(record["arch"]))
        except (HwnasError, RecursionError, TypeError) as exc:
            raise DataFileError(f"{path}: line {line_no}, field 'arch': {exc}") from None
        values.append(positive(record["ms"], f"{path}: line {line_no}, field 'ms'"))
    return archs, np.asarray(values, dtype=np.float64)


def _read_csv(path: Path, space: Any, column: str | None) -> tuple[list[Arch], np.ndarray]:
    with csv_records(path) as reader:
        header = list(reader.fieldnames or [])
        first = next(iter(reader), {}).get(ARCH_COLUMN, "") or "" if ARCH_COLUMN in header else ""
    if first.lstrip().startswith("{"):  # a user's CSV of arch JSON (`_arch_csv`'s layout)
        if column is None:
            raise DataFileError(f"{path}: name the latency column (--column), one of "
                                f"{', '.join(c for c in header if c != ARCH_COLUMN)}")
        return read_arch_csv(path, space, column, min_rows=1)  # the few-shot minimum is checked by the caller
    data = read_help_csv(path)
    if data.space != space.name:
        raise DataFileError(f"{path}: its rows are subnets of {data.space!r}, not of --space {space.name!r}")
    if column is None:
        if len(data.latency_ms) != 1:
            raise DataFileError(f"{path}: name the latency column (--column), one of {', '.join(data.latency_ms)}")
        column = next(iter(data.latency_ms))
    if column not in data.latency_ms:
        raise DataFileError(f"{path}: no latency column {column!r}; columns: {', '.join(data.latency_ms)}")
    return [space.validate(a) for a in data.archs], data.column(column)


# -- the profile --------------------------------------------------------------------------------------


def calibrate_few_shot(space: Any, archs: Sequence[Arch], measured_ms: np.ndarray, device: str,
                       bases: Sequence[str] | None = None, exclude: Sequence[str] = (), kind: str | None = None,
                       runtime: str | None = None, provenance: dict[str, Any] | None = None,
                       threads: int = 0) -> tuple[Profile, LatencyModel]:
    """The few-shot profile of `device` from its measured subnets of `space` (see the module docstring)."""
    measured_ms = np.asarray(measured_ms, dtype=np.float64)
    if len(archs) < MIN_MEASUREMENTS:
        raise DataFileError(f"{len(archs)} measured subnets; a few-shot profile needs at least {MIN_MEASUREMENTS}")
    names, base_ms, skipped = candidate_bases(space, archs, bases, exclude)
    features = summary_rows(space, archs)
    fit = fit_few_shot(base_ms, measured_ms, features)
    if not len(fit.used):
        raise ProfileError(f"no mix of the base profiles fits the {len(archs)} measurements")
    used, weights = [int(i) for i in fit.used], fit.weights
    from scipy.stats import spearmanr  # heavy: only calibration reports it

    validation = {"split": f"leave-one-out over the {len(archs)} measured subnets (the mix"
                           f"{' and its correction' if fit.correction is not None else ''} refitted without each)",
                  "n_train": len(archs) - 1, "n_test": len(archs),
                  "metrics": {**metrics.summary(measured_ms, fit.held_out),
                              "spearman": float(spearmanr(measured_ms, fit.held_out)[0])},
                  "mix_alone": metrics.summary(measured_ms, fit.mix_held_out),
                  "fitted_in_sample": metrics.summary(measured_ms, fit.predict(base_ms, features))}
    base_profiles = [get_profile(names[i]) for i in used]
    shares = weights / weights.sum()
    weight_of_kind = {k: sum(w for w, p in zip(shares, base_profiles) if p.kind == k) for k in {p.kind for p in base_profiles}}
    kind = kind or max(weight_of_kind, key=weight_of_kind.__getitem__)
    model = OpCostLinear()
    model.scale_, model.coef_, model.gain_ = np.ones(len(used)), weights.copy(), 1.0
    mix = [{"profile": names[i], "weight": float(w)} for i, w in zip(used, weights)]
    measured_on = {"space": space.name, "preset": space.preset}
    correction = {} if fit.correction is None else {"correction": {
        **measured_on, "predictor": correction_key(space), "ridge": fit.correction.ridge,
        "inputs": "the arch's encode_summary, then the log-ms of each base above and of the mix",
        "note": "applies to subnets of this space and preset only"}}
    profile = Profile(
        device=device, kind=kind,
        runtime=runtime or "as measured (few-shot mix of " + ", ".join(p.device for p in base_profiles) + ")",
        threads=threads, batch=1,
        provenance={"source": f"few-shot: {len(archs)} measured subnets of {space.name}/{space.preset}, mixed from "
                              f"{len(used)} base profiles", "licence": "measurements made by the user", "date": today(),
                    "method": "hwnas profile calibrate --few-shot: non-negative mix of base profiles' predictions, "
                              f"relative error, ridge {RIDGE:g}"
                              + ("; log-linear ridge correction over the arch summary" if correction else ""),
                    "n": len(archs), "bases_considered": names, "bases_skipped": skipped, **(provenance or {})},
        domain={"features": FEATURE_SET, "bases": mix, "spaces": [measured_on], **correction,
                "note": "prices any space every base prices; measured on the space above"},
        predictor={"kind": "few-shot-mix", "file": "predictor.json"},
        validation=validation, n_measurements=len(archs),
    )
    aux = {} if fit.correction is None else {correction_key(space): fit.correction}
    return profile, LatencyModel(FEATURE_SET, {"model": model}, aux)


def summary_rows(space: Any, archs: Sequence[Any]) -> np.ndarray:
    """The arch summaries (`encode_summary`) a correction reads, one row per arch."""
    return np.stack([space.encode_summary(space.validate(a)) for a in archs])


def correction_key(space: Any) -> str:
    """The correction's name among the profile's auxiliary predictors (as op-level profiles name theirs)."""
    return f"correction:{space.name}/{space.preset}"


def few_shot_archs_ms(profile: Profile, space: Any, archs: Sequence[Any]) -> np.ndarray:
    """A few-shot profile's latency of `archs`: its bases' predictions, mixed. A base that cannot price them
    raises `OutOfDomainError` naming the base."""
    from hwnas.hw_profiles._predict import predict_archs_ms  # the bases' own pricing

    entries = profile.domain.get("bases")
    if not isinstance(entries, list) or not entries:
        raise ProfileError(f"profile {profile.device!r}: field 'domain.bases' must list its base profiles")
    columns = []
    for entry in entries:
        name = entry.get("profile") if isinstance(entry, dict) else None
        base = _resolve(profile, str(name))
        try:
            columns.append(predict_archs_ms(base, space, archs))
        except OutOfDomainError as exc:
            raise OutOfDomainError(f"profile {profile.device!r} prices through base {name!r}, which cannot: {exc}") from None
    used_ms = np.stack(columns, axis=1)
    mixed = profile.model.parts["model"].predict(used_ms)
    correction = profile.model.aux.get(correction_key(space))
    if correction is None:  # measured on another space: the mix alone
        return mixed
    try:
        return mixed * correction.predict(correction_rows(summary_rows(space, archs), used_ms, mixed))
    except ValueError as exc:  # a correction that does not fit this space's summary or these bases
        raise ProfileError(f"profile {profile.device!r}: its correction for {space.name}/{space.preset} does not "
                           f"fit ({exc})") from None


_RESOLVED: dict[tuple[str, str], Profile] = {}  # (few-shot profile's directory, base name) -> the loaded base


def _resolve(profile: Profile, name: str) -> Profile:
    """A base by shipped name, or by directory (relative to the few-shot profile's own directory first);
    loaded once per process (a search prices many batches)."""
    key = (str(profile.path), name)
    if key in _RESOLVED:
        return _RESOLVED[key]
    try:
        if name not in shipped_profile_names() and profile.path is not None and (profile.path / name).is_dir():
            base = get_profile(profile.path / name)
        else:
            base = get_profile(name)
    except HwnasError as exc:
        raise ProfileError(f"profile {profile.device!r}: base profile {name!r} cannot be loaded ({exc})") from None
    _RESOLVED[key] = base
    return base


def file_source(path: str | Path, column: str | None) -> dict[str, Any]:
    """Provenance of a measurements file: name, sha256, column."""
    return {"file": file_provenance(Path(path)), **({"column": column} if column else {})}
