"""Op-level profiles fitted on end-to-end latencies of measured subnets (HAT's and HELP's CSVs, a user's own CSV,
subnets measured here).

Each subnet's ops (what it ran: `space.latency_blocks(arch)` unless the source says otherwise, fused as the
runtime fuses them) become one row of per-class counts, MACs and output elements; non-negative unit costs are
fitted on relative error (`OpCostLinear`), validated on a held-out 20 % and refitted on every row for shipping.
The profile's `op_classes` are the classes the rows held, with the per-op ranges they were measured at, so
another space's ops are priced as measured, composed or extrapolated (`_op_level`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import DataFileError
from hwnas.hw_profiles._arch_csv import read_arch_csv
from hwnas.hw_profiles._common import file_provenance, score, split_indices, today
from hwnas.hw_profiles._help import read_help_csv
from hwnas.hw_profiles._op_level import FEATURE_SET, OpLevelDomain, calibration_domain
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.predictors import GradientBoosted, OpCostLinear, metrics
from hwnas.search_spaces import get_space

#: HELP's device columns -> (profile kind, what the device is); columns not named here are `gpu`.
HELP_DEVICES = {
    "2080ti": ("gpu", "NVIDIA GeForce RTX 2080 Ti"), "titanxp": ("gpu", "NVIDIA TITAN Xp"),
    "v100": ("gpu", "NVIDIA Tesla V100"), "1080ti": ("gpu", "NVIDIA GeForce GTX 1080 Ti"), "titanx": ("gpu", "NVIDIA TITAN X"),
    "gold_6226": ("cpu", "Intel Xeon Gold 6226"), "gold_6240": ("cpu", "Intel Xeon Gold 6240"),
    "silver_4114": ("cpu", "Intel Xeon Silver 4114"), "silver_4210r": ("cpu", "Intel Xeon Silver 4210R"),
    "pixel2": ("mobile-cpu", "Google Pixel 2"), "pixel3": ("mobile-cpu", "Google Pixel 3"),
    "samsung_a50": ("mobile-cpu", "Samsung Galaxy A50"), "samsung_s7": ("mobile-cpu", "Samsung Galaxy S7"),
    "essential_ph_1": ("mobile-cpu", "Essential PH-1"),
}


def family(op_class: str) -> str:
    """The kernel family an op class shares its baseline unit costs with."""
    if "-dw" in op_class:
        return "depthwise-conv"
    if op_class.startswith(("conv1d", "conv2d")) and not op_class.endswith("-pw"):
        return "dense-conv"
    if op_class.endswith("-pw") or op_class in ("linear", "window_attention") or op_class.startswith("attention"):
        return "matmul"
    return "elementwise"


#: Shrinkage of each class's own unit costs towards its family's (relative to the scaled design; chosen by
#: `benchmarks/coverage.py`'s cross-space check): enough that a class seen in one shape (OFA's classifier)
#: keeps its family's per-MAC cost, little enough that the calibrated space keeps its accuracy.
CLASS_RIDGE = 1e-3


def fit_unit_costs(rows: np.ndarray, latency_ms: np.ndarray, columns: Sequence[str], ridge: float = CLASS_RIDGE) -> OpCostLinear:
    """Non-negative unit costs per class = a per-op launch cost every class shares + its family's costs + its
    own (the family's and its own count costs, and its own MAC and output costs, shrunk by `ridge`), fitted on
    relative error and folded into one `OpCostLinear` over the class columns.

    Classes of one family (every matmul-like op; every elementwise pass) then share a baseline, so a class
    the data barely varies inherits its family's costs instead of an arbitrary split of a confounded sum."""
    from scipy.optimize import nnls  # heavy (0.3 s): only fitting needs it

    names = sorted({family(c) for c in columns})
    members = np.zeros((rows.shape[1], 2 + 3 * len(names)))  # class column -> [overhead, launch, family columns]
    members[0, 0] = 1.0
    for i, c in enumerate(columns):
        f = names.index(family(c))
        members[1 + 3 * i, 1] = 1.0
        for j in range(3):
            members[1 + 3 * i + j, 2 + 3 * f + j] = 1.0
    shared = rows @ members
    design = np.hstack([shared, rows[:, 1:]])
    scale = design.max(axis=0)
    scale[scale == 0] = 1.0
    weighted = design / scale / latency_ms[:, None]
    shrunk = [2 + 3 * f for f in range(len(names))] + list(range(shared.shape[1], design.shape[1]))
    penalty = np.zeros((len(shrunk), design.shape[1]))
    penalty[np.arange(len(shrunk)), shrunk] = np.sqrt(ridge)
    coef, _ = nnls(np.vstack([weighted, penalty]), np.concatenate([np.ones(len(latency_ms)), np.zeros(len(penalty))]),
                   maxiter=50 * design.shape[1])
    unit = coef / scale  # ms per unit of each design column
    per_class = members @ unit[: shared.shape[1]]
    per_class[1:] += unit[shared.shape[1]:]
    model = OpCostLinear()
    model.scale_ = rows.max(axis=0)
    model.scale_[model.scale_ == 0] = 1.0
    model.coef_ = per_class * model.scale_
    fitted = rows @ per_class
    ok = fitted > 0
    model.gain_ = float(np.exp(np.mean(np.log(latency_ms[ok] / fitted[ok])))) if ok.any() else 1.0
    return model


#: The calibrated space's own correction: boosted trees on log(measured / unit-cost prediction) over the op
#: rows, strongly shrunk; kept only where 5-fold CV on the training rows shows a clear gain.
CORRECTION = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 8, "min_child_samples": 50}
MARGIN = 0.01  # share within ±10% the correction must add in cross-validation


def fit_correction(rows: np.ndarray, latency_ms: np.ndarray, base: OpCostLinear) -> GradientBoosted:
    return GradientBoosted(**CORRECTION).fit_raw(rows, np.log(latency_ms / np.maximum(base.predict(rows), 1e-9)))


def correction_helps(rows: np.ndarray, latency_ms: np.ndarray, base: OpCostLinear, folds: int = 5) -> bool:
    """Whether a source's correction over `base` adds `MARGIN` of acc10 (without costing τ) in k-fold CV on its rows."""
    perm = np.random.default_rng(0).permutation(len(latency_ms))
    plain, corrected = base.predict(rows), np.empty(len(latency_ms))
    for k in range(folds):
        test = perm[k::folds]
        train = np.setdiff1d(perm, test)
        corrected[test] = plain[test] * np.exp(fit_correction(rows[train], latency_ms[train], base).predict_raw(rows[test]))
    (a0, t0), (a1, t1) = score(latency_ms, plain), score(latency_ms, corrected)
    return a1 >= a0 + MARGIN and t1 >= t0 - MARGIN / 2


def _spearman(truth: np.ndarray, predicted: np.ndarray) -> float:
    from scipy.stats import spearmanr  # heavy: only calibration reports it

    return float(spearmanr(truth, predicted)[0]) if len(truth) > 2 else float("nan")


@dataclass
class Measured:
    """End-to-end latencies of measured subnets of one space on one device: one source of a calibration.

    By default each row timed `space.latency_blocks(arch)`, a whole inference. `block_lists` gives what was timed
    instead, when it differs: another sentence length or vocabulary (HAT's IWSLT rows), or pieces given as their
    ops (a phone table's blocks, `whole=False`: no per-inference overhead, no space). A source's space correction
    is fitted only when its rows are that space's archs timed as the space prices them (`own_workload`)."""

    label: str
    space: Any
    archs: list[Any]
    latency_ms: np.ndarray
    provenance: dict[str, Any]
    block_lists: list[list[Any]] | None = None
    whole: bool = True
    own_workload: bool = True

    def blocks(self) -> list[list[Any]]:
        return self.block_lists if self.block_lists is not None else [self.space.latency_blocks(a) for a in self.archs]

    @property
    def corrects(self) -> bool:
        """Whether this source may carry a correction for its space (see the class docstring)."""
        return self.space is not None and self.own_workload

    @property
    def key(self) -> str:
        """The aux entry of this source's space correction."""
        return f"correction:{self.space.name}/{self.space.preset}"


def help_source(path: str | Path, column: str) -> Measured:
    """One device column of a HELP CSV as a calibration source."""
    data = read_help_csv(path)
    space = get_space(data.space)
    return Measured(f"{data.path.name}:{column}", space, [space.validate(a) for a in data.archs], data.column(column),
                    {**file_provenance(data.path), "column": column})


def source_rows(sources: Sequence[Measured], fusion: str, device: str) -> tuple[dict[str, Any], OpLevelDomain, list[np.ndarray]]:
    """The op classes the sources ran (with their measured ranges), their domain, and each source's op-level rows."""
    all_blocks = [s.blocks() for s in sources]
    unique = {block for group in all_blocks for blocks in group for block in blocks}
    classes = calibration_domain([block.ops() for block in unique], fusion)
    domain = OpLevelDomain.from_dict({"op_classes": classes, "fusion": fusion}, device)
    rows = [domain.blocks_rows(group, overhead=float(s.whole))[0] for s, group in zip(sources, all_blocks)]
    return classes, domain, rows


def calibrate_measured(sources: Sequence[Measured], device: str, kind: str, runtime: str, batch: int, source: str,
                       method: str, fusion: str = "eager") -> tuple[Profile, LatencyModel]:
    """One op-level profile fitted on every source of a device, validated per source on its held-out 20 %.

    Unit costs are fitted on all sources' rows together (relative error); each space whose own archs the sources
    timed may add a correction (fitted on all those sources' rows, kept where CV on their training rows shows a clear
    gain), which prices only archs of that space."""
    classes, domain, rows = source_rows(sources, fusion, device)
    splits = [split_indices(len(s.latency_ms)) for s in sources]
    train_rows = np.vstack([r[train] for r, (train, _) in zip(rows, splits)])
    train_ms = np.concatenate([s.latency_ms[train] for s, (train, _) in zip(sources, splits)])
    held_out = fit_unit_costs(train_rows, train_ms, domain.columns)
    shipped = fit_unit_costs(np.vstack(rows), np.concatenate([s.latency_ms for s in sources]), domain.columns)
    held_corrections, aux, corrections = {}, {}, []
    for key in dict.fromkeys(s.key for s in sources if s.corrects):  # one correction per space, on all its sources' rows
        group = [(s, r, train) for s, r, (train, _) in zip(sources, rows, splits) if s.corrects and s.key == key]
        x, y = np.vstack([r[train] for _, r, train in group]), np.concatenate([s.latency_ms[train] for s, _, train in group])
        if correction_helps(x, y, held_out):
            held_corrections[key] = fit_correction(x, y, held_out)
            aux[key] = fit_correction(np.vstack([r for _, r, _ in group]), np.concatenate([s.latency_ms for s, _, _ in group]),
                                      shipped)
            corrections.append({"space": group[0][0].space.name, "preset": group[0][0].space.preset})
    per_source = {}
    truth, predicted, plain = [], [], []
    for s, r, (_, test) in zip(sources, rows, splits):
        base_test = held_out.predict(r[test])
        correction = held_corrections.get(s.key) if s.corrects else None
        pred = base_test if correction is None else base_test * np.exp(correction.predict_raw(r[test]))
        per_source[s.label] = {**metrics.summary(s.latency_ms[test], pred), "spearman": _spearman(s.latency_ms[test], pred),
                               "correction": correction is not None,
                               "unit_costs_alone": metrics.summary(s.latency_ms[test], base_test)}
        truth.append(s.latency_ms[test])
        predicted.append(pred)
        plain.append(base_test)
    validation = {
        "split": "random 80/20 of each source's rows, numpy seed 0; unit costs fitted on every source's 80 %, "
                 "each space's correction on its sources' 80 %",
        "n_train": int(len(train_ms)), "n_test": int(sum(len(t) for t in truth)),
        "metrics": metrics.summary(np.concatenate(truth), np.concatenate(predicted)),
        "unit_costs_alone": metrics.summary(np.concatenate(truth), np.concatenate(plain)),
        "per_source": per_source,
    }
    spaces = [{"space": name, "preset": preset}
              for name, preset in dict.fromkeys((s.space.name, s.space.preset) for s in sources if s.space is not None)]
    profile = Profile(
        device=device, kind=kind, runtime=runtime, threads=0, batch=batch,
        provenance={"source": source, "sources": [{"label": s.label, **s.provenance} for s in sources], "date": today(),
                    "licence": sources[0].provenance.get("licence", "unknown"), "method": method},
        domain={"features": FEATURE_SET, "fusion": fusion, "spaces": spaces, "input": "each arch at its space's input",
                "op_classes": classes, **({"corrections": corrections} if corrections else {})},
        predictor={"kind": "op-cost-linear" + ("+space corrections" if corrections else ""), "file": "predictor.json"},
        validation=validation, n_measurements=int(sum(len(s.latency_ms) for s in sources)),
    )
    return profile, LatencyModel(FEATURE_SET, {"model": shipped}, aux)


ALIASES = {"titan_xp": "titanxp"}  # one GPU, two spellings in HELP's files


def help_device(column: str) -> tuple[str, int, str, str]:
    """(profile name, batch, kind, what the device is) of a HELP device column: `2080ti_32` → `2080ti-b32`, 32, gpu."""
    base, batch = column, 1
    match = re.fullmatch(r"(.+)_(\d+)", column)
    if column not in HELP_DEVICES and match:
        base, batch = match.group(1), int(match.group(2))
    base = ALIASES.get(base, base)
    kind, full_name = HELP_DEVICES.get(base, ("gpu", base))
    return base.replace("_", "-") + (f"-b{batch}" if batch > 1 else ""), batch, kind, full_name


def calibrate_help_csv(path: str | Path, device: str | None = None, kind: str | None = None,
                       runtime: str | None = None) -> tuple[Profile, LatencyModel]:
    """An op-level profile of one device column of a HELP CSV (`device` names the column, e.g. `2080ti_32`)."""
    if device is None:
        data = read_help_csv(path)
        raise DataFileError(f"{data.path}: name the device column to calibrate (--device), one of {', '.join(data.latency_ms)}")
    return calibrate_help_columns([(path, device)], kind=kind, runtime=runtime)


def calibrate_help_columns(columns: Sequence[tuple[str | Path, str]], name: str | None = None, kind: str | None = None,
                           runtime: str | None = None) -> tuple[Profile, LatencyModel]:
    """One op-level profile of one device from HELP columns (e.g. the OFA and the FBNet file's `2080ti_32`)."""
    sources = [help_source(path, column) for path, column in columns]
    if len({help_device(column)[1] for _, column in columns}) > 1:
        raise DataFileError(f"columns {[c for _, c in columns]} were measured at different batch sizes; one profile is one batch")
    default_name, batch, guessed_kind, full_name = help_device(columns[0][1])
    kind = kind or guessed_kind
    phone = kind == "mobile-cpu"  # HW-NAS-Bench's TFLite block measurements: BatchNorm and ReLU fold into convs
    spaces = ", ".join(f"{s.space.name} ({s.label})" for s in sources)
    return calibrate_measured(
        sources, name or default_name, kind, runtime or ("tflite (HW-NAS-Bench / HELP)" if phone else "pytorch (HELP's measurement)"),
        batch, f"HELP latency dataset: measured subnets of {spaces} on {full_name} at batch {batch}, "
        "Lee et al., HELP, NeurIPS 2021 (HayeonLee/HELP)", "hwnas profile calibrate --source help-csv",
        fusion="deployed" if phone else "eager")


def calibrate_arch_csv(path: str | Path, space: Any, column: str, name: str | None = None, kind: str | None = None,
                       runtime: str | None = None, fusion: str = "eager") -> tuple[Profile, LatencyModel]:
    """An op-level profile from a user's CSV of measured subnets of `space` (see `_arch_csv`)."""
    path = Path(path)
    archs, measured = read_arch_csv(path, space, column)
    source = Measured(f"{path.name}:{column}", space, archs, measured, {**file_provenance(path), "column": column})
    return calibrate_measured([source], name or column, kind or "cpu", runtime or "the user's own measurements", 1,
                              f"measured subnets of {space.label} ({path.name}, column {column})",
                              "hwnas profile calibrate --source arch-csv", fusion)
