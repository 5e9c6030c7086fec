"""`calibrate_hat_csv`: a HAT latency CSV → a `Profile` of that device for the `hat-wmt14-en-de` preset.

Per part (encoder, decoder) two candidates are scored by 5-fold cross-validation on the training rows:
non-negative unit costs of the physical features alone, and the same with a strongly shrunk boosted-tree
correction, kept only if it adds a clear margin (one point within ±10%) without costing τ. The choice is
validated on the held-out 20% and refitted on every row for shipping. Nothing in it is specific to one device or task.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hwnas.hw_profiles._common import cross_validated, file_provenance, score, split_indices, today
from hwnas.hw_profiles._hat import (
    FEATURE_SET,
    HAT_SETUP,
    PARTS,
    PHYSICAL_WIDTH,
    HatData,
    column_ranges,
    hat_op_features,
    read_hat_csv,
)
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.predictors import GradientBoosted, OpCostLinear, Predictor, Residual, metrics

CANDIDATES: dict[str, Callable[[int], Predictor]] = {
    "op-cost-linear": lambda width: Residual(OpCostLinear(), None, base_features=width),
    "op-cost-linear+trees": lambda width: Residual(OpCostLinear(), GradientBoosted(
        n_estimators=100, learning_rate=0.02, num_leaves=4, min_child_samples=50, colsample_bytree=1.0), base_features=width),
}
MARGIN = 0.01  # share within ±10% the trees must add in cross-validation
HAT_OP_KINDS = ["embedding", "linear", "attention(softmax)", "layernorm", "act(relu)", "add"]


def _guess(path: Path) -> dict[str, str]:
    """Device, kind and task from HAT's file names (`wmt14ende_cpu_xeon_all.csv`), when they follow them."""
    match = re.match(r"(?P<task>[a-z0-9]+)_(?P<kind>cpu|gpu)_(?P<device>[a-z0-9]+)", path.stem)
    return match.groupdict() if match else {}


def fit_hat_parts(data: HatData, rows: np.ndarray, choice: dict[str, str] | None = None) -> tuple[LatencyModel, dict[str, str]]:
    """Fit the encoder and decoder predictors on `rows`; `choice` fixes the candidate per part, else CV picks."""
    parts_x = hat_op_features(data.features[rows])
    targets = {"encoder": data.encoder_ms[rows], "decoder": data.decoder_ms[rows]}
    chosen, fitted = dict(choice or {}), {}
    for part in PARTS:
        width, X, y = PHYSICAL_WIDTH[part], parts_x[part], targets[part]
        if part not in chosen:
            folds = min(5, len(y))
            scores = {name: score(y, cross_validated(lambda: make(width), X, y, folds)) for name, make in CANDIDATES.items()}
            simple, flexible = scores["op-cost-linear"], scores["op-cost-linear+trees"]
            # Occam: the trees must earn their place by a clear margin, not by fitting noise
            better = flexible[0] >= simple[0] + MARGIN and flexible[1] >= simple[1] - MARGIN / 2
            chosen[part] = "op-cost-linear+trees" if better else "op-cost-linear"
        fitted[part] = CANDIDATES[chosen[part]](width).fit(X, y)
    return LatencyModel(FEATURE_SET, fitted), chosen


def calibrate_hat_csv(path: str | Path, device: str | None = None, kind: str | None = None,
                      runtime: str | None = None) -> tuple[Profile, LatencyModel]:
    """Profile + fitted model from a HAT CSV; raises `DataFileError` for bad data (see `read_hat_csv`)."""
    data = read_hat_csv(path)
    guess = _guess(data.path)
    train, test = split_indices(len(data))
    held_out, chosen = fit_hat_parts(data, train)
    parts_test = hat_op_features(data.features[test])
    pred = sum(held_out.parts[p].predict(parts_test[p]) for p in PARTS)
    validation = {
        "split": "random 80/20 of the rows, numpy seed 0; predictor fitted on the 80%",
        "n_train": int(len(train)), "n_test": int(len(test)),
        "metrics": metrics.summary(data.total_ms[test], pred),
        "per_part": {p: metrics.summary(getattr(data, f"{p}_ms")[test], held_out.parts[p].predict(parts_test[p])) for p in PARTS},
    }
    model, _ = fit_hat_parts(data, np.arange(len(data)), chosen)
    task = guess.get("task", "unknown")
    profile = Profile(
        device=device or guess.get("device") or data.path.stem, kind=kind or guess.get("kind", "cpu"),
        runtime=runtime or "pytorch eager (fairseq, HAT's measurement script)", threads=0, batch=1,
        provenance={"source": f"HAT latency dataset ({data.path.name}): measured SubTransformers, "
                              "Wang et al., HAT, ACL 2020 (mit-han-lab/hardware-aware-transformers)",
                    **file_provenance(data.path), "date": today(), "task": task,
                    "method": "hwnas profile calibrate --source hat-csv", "threads_note": "0 = runtime default; not recorded by the source"},
        domain={"features": FEATURE_SET, "setup": dict(HAT_SETUP), "task": task,
                "spaces": [{"space": "mixed-attention", "preset": "hat-wmt14-en-de", "attn": ["softmax"]}],
                "op_kinds": HAT_OP_KINDS, "shapes": column_ranges(data.features),
                "note": "linear (cosformer) attention layers are outside this domain: HAT measured softmax attention only"},
        predictor={"kind": "residual", "file": "predictor.json", "parts": {p: chosen[p] for p in PARTS}},
        validation=validation, n_measurements=len(data),
    )
    return profile, model
