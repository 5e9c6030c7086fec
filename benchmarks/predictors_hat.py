"""HAT latency datasets: hwnas's calibration vs HAT's own MLP recipe on the same random 80/20 split.

For every CSV in $HWNAS_DATA/hat-latency: ours (an op-level profile: each row's subnet and the decode HAT timed as
ops, non-negative unit costs per op class and the space's correction where cross-validation keeps it, exactly what
`hwnas profile calibrate --source hat-csv` fits) on the 80%, ours on only 200 rows of it, and HAT's MLP (3×400
hidden, Adam 1e-5, 5,000 steps, batch 128, `ArchMLP`, on HAT's ten columns) on the 80%; all scored on the same 20%.

    python benchmarks/predictors_hat.py --json [--seeds 0 1 2] [--steps 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hwnas.hw_profiles._calibrate_hat import hat_source
from hwnas.hw_profiles._calibrate_op_level import correction_helps, fit_correction, fit_unit_costs, source_rows
from hwnas.hw_profiles._common import split_indices
from hwnas.hw_profiles._hat import read_hat_csv
from hwnas.predictors import ArchMLP, metrics


def data_dir() -> Path:
    return Path(os.environ.get("HWNAS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def figures(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    s = metrics.summary(y, p)
    return {"acc10": round(s["acc10"], 4), "kendall_tau": round(s["kendall_tau"], 4), "mape": round(s["mape"], 4)}


def op_level(rows: np.ndarray, y: np.ndarray, columns: list[str], train: np.ndarray, test: np.ndarray,
             correct: bool) -> tuple[np.ndarray, bool]:
    """Unit costs fitted on `train` (plus the space's correction where CV keeps it), predicted on `test`."""
    model = fit_unit_costs(rows[train], y[train], columns)
    predicted = model.predict(rows[test])
    keep = correct and correction_helps(rows[train], y[train], model)
    if keep:
        predicted = predicted * np.exp(fit_correction(rows[train], y[train], model).predict_raw(rows[test]))
    return predicted, keep


def run(path: Path, seed: int, steps: int) -> dict:
    data, source = read_hat_csv(path), hat_source(path)
    _, domain, (rows,) = source_rows([source], "eager", "benchmark")
    train, test = split_indices(len(data), seed)
    y = data.total_ms
    ours, corrected = op_level(rows, y, domain.columns, train, test, source.corrects)
    small = np.random.default_rng(seed).choice(train, size=min(200, len(train)), replace=False)
    ours_200, _ = op_level(rows, y, domain.columns, small, test, source.corrects)
    start = time.time()
    mlp = ArchMLP(steps=steps, seed=seed).fit(data.features[train], y[train])
    mlp_s = time.time() - start
    return {"file": path.name, "seed": seed, "n_train": int(len(train)), "n_test": int(len(test)), "correction": corrected,
            "ours": figures(y[test], ours), "ours_200": figures(y[test], ours_200),
            "hat_mlp": figures(y[test], mlp.predict(data.features[test])), "hat_mlp_fit_s": round(mlp_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=5000, help="HAT MLP training steps (HAT: 5000)")
    parser.add_argument("--files", nargs="*", default=None, help="CSV names (default: every *.csv)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = data_dir() / "hat-latency"
    files = [folder / f for f in args.files] if args.files else sorted(folder.glob("*.csv"))
    results = []
    for path in files:
        for seed in args.seeds:
            r = run(path, seed, args.steps)
            results.append(r)
            if not args.json:
                print(f"{r['file']} seed {seed}: ours {r['ours']} | ours@200 {r['ours_200']} | HAT-MLP {r['hat_mlp']}", file=sys.stderr)
    summary = {}
    for r in results:
        s = summary.setdefault(r["file"], {"ours_acc10": [], "ours_tau": [], "ours200_acc10": [], "mlp_acc10": [], "mlp_tau": []})
        s["ours_acc10"].append(r["ours"]["acc10"]); s["ours_tau"].append(r["ours"]["kendall_tau"])  # noqa: E702
        s["ours200_acc10"].append(r["ours_200"]["acc10"])
        s["mlp_acc10"].append(r["hat_mlp"]["acc10"]); s["mlp_tau"].append(r["hat_mlp"]["kendall_tau"])  # noqa: E702
    summary = {f: {k: round(float(np.mean(v)), 4) for k, v in s.items()} for f, s in summary.items()}
    out = {"benchmark": "predictors_hat", "split": "random 80/20 (numpy seed per run)", "runs": results, "mean": summary}
    print(json.dumps(out, indent=2) if args.json else json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
