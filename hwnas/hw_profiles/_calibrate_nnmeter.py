"""`calibrate_nnmeter_lut`: an nn-Meter block LUT → a phone profile (lookup table + per-kind regressors).

Measured blocks are answered from the table; unmeasured ones by one regressor per block kind (nn-Meter's
kernel-level method): non-negative unit costs of the block's MACs and traffic, times a boosted-tree
correction over the same counts and the raw key fields. Validation holds out 20% of every kind's keys.
The same blocks, written out as ops (`_nnmeter_ops`), also fit an op-level model (TFLite's fusion), which
prices the archs of spaces whose blocks do not map onto the table (`domain.op_classes`, aux `ops`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hwnas.hw_profiles._calibrate_op_level import Measured, calibrate_measured
from hwnas.hw_profiles._common import file_provenance, split_indices, today
from hwnas.hw_profiles._nnmeter import (
    BLOCK_KINDS,
    FEATURE_SET,
    FULL_WIDTH,
    KEY_FORMATS,
    PHYSICAL_WIDTH,
    LutData,
    parse_block_key,
    read_nnmeter_lut,
)
from hwnas.hw_profiles._nnmeter_ops import block_ops
from hwnas.hw_profiles._op_level import OpsBlock
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.predictors import BlockLookupTable, GradientBoosted, KernelLevel, OpCostLinear, Predictor, Residual, metrics


def block_regressor(kind: str) -> Predictor:
    """The fallback regressor of one block kind; small kinds (a dozen keys) get the unit-cost model alone."""
    trees = GradientBoosted(n_estimators=80, learning_rate=0.12, num_leaves=12, min_child_samples=5)  # < 1 MB shipped
    return Residual(OpCostLinear(), trees, base_features=PHYSICAL_WIDTH[kind])


def _widths(data: LutData) -> dict[str, int]:
    return {kind: FULL_WIDTH[kind] for kind in set(data.kinds)}


def fit_lut(data: LutData, rows: np.ndarray) -> BlockLookupTable:
    kinds = [data.kinds[i] for i in rows]
    small = {k for k in set(kinds) if kinds.count(k) < 40}

    def make(kind: str) -> Predictor:
        return Residual(OpCostLinear(), None, PHYSICAL_WIDTH[kind]) if kind in small else block_regressor(kind)

    model = BlockLookupTable(KernelLevel(make, widths=_widths(data)))
    return model.fit(data.X[rows], data.latency_ms[rows], keys=[data.keys[i] for i in rows], kinds=kinds)


def calibrate_nnmeter_lut(path: str | Path, device: str | None = None, kind: str | None = None,
                          runtime: str | None = None) -> tuple[Profile, LatencyModel]:
    data = read_nnmeter_lut(path)
    kinds = np.array(data.kinds)
    train_parts, test_parts = [], []
    for k in sorted(set(data.kinds)):  # stratified: 20% of every kind held out
        index = np.nonzero(kinds == k)[0]
        tr, te = split_indices(len(index))
        train_parts.append(index[tr])
        test_parts.append(index[te])
    train, test = np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(test_parts))
    held_out = fit_lut(data, train)
    pred = held_out.predict(data.X[test], keys=None, kinds=list(kinds[test]))  # keys=None: every held-out block by regressor
    y = data.latency_ms[test]
    per_kind = {k: metrics.summary(y[kinds[test] == k], pred[kinds[test] == k]) for k in sorted(set(data.kinds))}
    validation = {"split": "random 80/20 of every block kind's keys, numpy seed 0; held-out keys priced by the regressors",
                  "n_train": int(len(train)), "n_test": int(len(test)), "metrics": metrics.summary(y, pred), "per_kind": per_kind}
    model = LatencyModel(FEATURE_SET, {"blocks": fit_lut(data, np.arange(len(data)))})
    op_level, op_model = _op_level_of(data)
    match = re.match(r"(?P<device>[a-z0-9]+)_lut", data.path.stem)
    present = sorted(set(data.kinds), key=BLOCK_KINDS.index)
    ranges = {k: {name: [int(data.X[kinds == k][:, PHYSICAL_WIDTH[k] + i].min()), int(data.X[kinds == k][:, PHYSICAL_WIDTH[k] + i].max())]
                  for i, name in enumerate(_raw_names(k))} for k in present}
    profile = Profile(
        device=device or (match.group("device") if match else data.path.stem), kind=kind or "mobile-cpu",
        runtime=runtime or "tflite (CPU, nn-Meter's measurement)", threads=1, batch=1,
        provenance={"source": f"nn-Meter block latency table ({data.path.name}), microsoft/nn-Meter, measured with TFLite on the phone",
                    **file_provenance(data.path), "date": today(), "method": "hwnas profile calibrate --source nnmeter-lut"},
        domain={"features": FEATURE_SET, "block_kinds": present, "key_formats": {k: KEY_FORMATS[k] for k in present},
                "shapes": ranges, "spaces": [], "note": "prices blocks by key; spaces map their blocks onto these kinds; "
                "archs of other spaces are priced by op_classes (the blocks' ops, deployed fusion)",
                "fusion": "deployed", "op_classes": op_level.domain["op_classes"]},
        predictor={"kind": "block-lut", "file": "predictor.json", "fallback": "kernel-level: residual(op-cost-linear, gradient-boosted) per block kind",
                   "ops": "op-cost-linear over the blocks' op classes (archs whose blocks the table cannot price)"},
        validation={**validation, "op_level": {"per_kind": op_level.validation["per_source"], "metrics": op_level.validation["metrics"]}},
        n_measurements=len(data),
    )
    model.aux["ops"] = op_model.parts["model"]
    return profile, model


def _op_level_of(data: LutData) -> tuple[Profile, LatencyModel]:
    """Unit costs of the table's blocks as ops, one source per block kind (so validation is per kind)."""
    kinds = np.array(data.kinds)
    sources = []
    for kind in sorted(set(data.kinds), key=BLOCK_KINDS.index):
        index = np.nonzero(kinds == kind)[0]
        blocks = [[OpsBlock(tuple(block_ops(parse_block_key(data.keys[i]))))] for i in index]
        sources.append(Measured(kind, None, [], data.latency_ms[index], {}, block_lists=blocks, whole=False))
    return calibrate_measured(sources, "blocks", "mobile-cpu", "tflite", 1, "nn-Meter blocks", "op-level", fusion="deployed")


def _raw_names(kind: str) -> list[str]:
    return {"conv": ["hw", "cin", "cout", "expand", "stride", "k", "se"], "transds": ["hw", "cin", "cout", "expand", "stride", "k", "se"],
            "transattn": ["hw", "c", "v", "heads"], "transffn": ["hw", "c", "expand"], "mbpool": ["hw", "cin", "cout", "expand"],
            "firstconv": ["hw", "cin", "cout", "stride", "k"]}[kind]
