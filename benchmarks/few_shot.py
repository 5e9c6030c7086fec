"""Few-shot profiles measured leave-one-device-out: a device's latency from N of its measured subnets and the
profiles of every *other* device (`hwnas profile calibrate --few-shot`'s mix), scored on all its other subnets.

For each device column of HELP's FBNet and OFA files (`$HWNAS_DATA/help-latency`) and each of HAT's files
(`$HWNAS_DATA/hat-latency`, HAT's own rows, priced as the ops they ran), the bases are the shipped profiles of other
devices (every batch size of the same GPU is left out too). N = 10 and 50 subnets are picked the way `hwnas profile suggest` picks
them (farthest points of the bases' predictions, out of a random pool of 1,000 rows) and, for comparison, at
random; `--seeds` pools each. Goals: mean Spearman over the FBNet devices with 10 suggested measurements ≥ 0.910
(HELP's published few-shot figure), and ≥ 90 % within ±10 % with 50. Prints a table and, with --json, writes
benchmarks/results/few_shot.json.

    python benchmarks/few_shot.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from hwnas.errors import HwnasError
from hwnas.hw_profiles import get_profile
from hwnas.hw_profiles._calibrate_hat import hat_source
from hwnas.hw_profiles._calibrate_op_level import help_device
from hwnas.hw_profiles._few_shot import fit_few_shot, spread_indices
from hwnas.hw_profiles._help import read_help_csv
from hwnas.hw_profiles._predict import predict_archs_ms
from hwnas.hw_profiles._registry import shipped_profile_names
from hwnas.hw_profiles._sources import source_ms
from hwnas.search_spaces import get_space

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(os.environ.get("HWNAS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
HELP_FILES = ("fbnet_latency_ms.csv", "ofa_latency_ms.csv")
#: HAT's files -> the shipped profile fitted on each (the target left out of its own bases).
HAT_FILES = {"wmt14ende_cpu_raspberrypi_all.csv": "raspberrypi", "wmt14ende_cpu_xeon_all.csv": "xeon",
             "wmt14ende_gpu_titanxp_all.csv": "titanxp", "iwslt14deen_gpu_titanxp_all.csv": "titanxp"}
GOAL_SPEARMAN_10, GOAL_ACC10_50 = 0.910, 0.90


def device_of(profile_name: str) -> str:
    """The physical device a profile name belongs to: `2080ti-b32` → `2080ti`."""
    return re.sub(r"-b\d+$", "", profile_name)


def score(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {"spearman": float(spearmanr(truth, predicted)[0]), "acc10": float(np.mean(np.abs(predicted / truth - 1) <= 0.10))}


def evaluate(base_ms: np.ndarray, measured: np.ndarray, features: np.ndarray, sizes: list[int],
             seeds: int) -> dict[str, dict[str, float]]:
    """Mean Spearman / acc10 on the rows not measured, per (N, picking) over `seeds` pools; `mix@N` is the
    suggested picks priced by the mix alone (without the correction `fit_few_shot` adds from 20 on)."""
    out: dict[str, dict[str, float]] = {}
    for n in sizes:
        for picking in ("suggested", "random"):
            scores, mix_only, kept = [], [], 0
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                if picking == "random":
                    chosen = rng.choice(len(measured), n, replace=False)
                else:
                    pool = rng.choice(len(measured), min(1000, len(measured)), replace=False)
                    chosen = pool[spread_indices(base_ms[pool], n)]
                rest = np.setdiff1d(np.arange(len(measured)), chosen)
                fit = fit_few_shot(base_ms[chosen], measured[chosen], features[chosen])
                scores.append(score(measured[rest], fit.predict(base_ms[rest], features[rest])))
                mix_only.append(score(measured[rest], fit.predict(base_ms[rest])))
                kept += fit.correction is not None
            out[f"{picking}@{n}"] = {k: float(np.mean([s[k] for s in scores])) for k in ("spearman", "acc10")}
            out[f"{picking}@{n}"]["corrected_share"] = kept / seeds
            if picking == "suggested":
                out[f"mix@{n}"] = {k: float(np.mean([s[k] for s in mix_only])) for k in ("spearman", "acc10")}
    return out


def help_rows(path: Path, sizes: list[int], seeds: int) -> list[dict]:
    data = read_help_csv(path)
    space = get_space(data.space)
    archs = [space.validate(a) for a in data.archs]
    features = np.stack([space.encode_summary(a) for a in archs])  # what a few-shot profile's correction reads
    predictions: dict[str, np.ndarray] = {}
    for name in shipped_profile_names():
        try:
            predictions[name] = predict_archs_ms(get_profile(name), space, archs)
        except HwnasError:
            continue  # a profile that does not price this space is no base here
    rows = []
    for column in data.latency_ms:
        target = help_device(column)[0]
        bases = [name for name in predictions if device_of(name) != device_of(target)]
        result = evaluate(np.stack([predictions[b] for b in bases], axis=1), data.column(column), features, sizes, seeds)
        rows.append({"file": path.name, "space": data.space, "device": column, "bases": len(bases), **result})
        print(f"{data.space:9s} {column:16s} " + "  ".join(f"{k} ρ {v['spearman']:.3f} acc10 {v['acc10']:.3f}"
                                                      for k, v in result.items() if k.startswith("suggested")), flush=True)
    return rows


def hat_rows(sizes: list[int], seeds: int) -> list[dict]:
    """HAT's files as targets; every shipped profile of another device that prices the rows' ops is a base."""
    profiles = {name: get_profile(name) for name in shipped_profile_names()}
    rows = []
    for file, target in HAT_FILES.items():
        source = hat_source(DATA / "hat-latency" / file)
        columns, names = [], []
        for name, profile in profiles.items():
            if device_of(name) == device_of(target):
                continue
            try:
                columns.append(source_ms(profile, source))
                names.append(name)
            except HwnasError:
                continue
        if not columns:
            continue
        space = source.space
        features = np.stack([space.encode_summary(a) for a in source.archs])
        result = evaluate(np.stack(columns, axis=1), source.latency_ms, features, sizes, seeds)
        rows.append({"file": file, "space": "hat", "device": target, "bases": len(names), **result})
        print(f"hat       {file[:16]:16s} " + "  ".join(f"{k} ρ {v['spearman']:.3f} acc10 {v['acc10']:.3f}"
                                                      for k, v in result.items() if k.startswith("suggested")), flush=True)
    return rows


def mean(rows: list[dict], key: str, metric: str) -> float:
    return float(np.mean([r[key][metric] for r in rows])) if rows else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50", help="numbers of measured subnets, comma-separated")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    start = time.perf_counter()
    rows = [row for file in HELP_FILES for row in help_rows(DATA / "help-latency" / file, sizes, args.seeds)]
    rows += hat_rows(sizes, args.seeds)
    summary: dict[str, dict[str, float]] = {}
    for group in ("fbnet", "ofa-mbv3", "hat", "all"):
        members = [r for r in rows if group == "all" or r["space"] == group]
        summary[group] = {f"{key}:{metric}": mean(members, key, metric) for key in rows[0] if "@" in key
                          for metric in ("spearman", "acc10")}
    small, large = min(sizes), max(sizes)
    goals = {"fbnet_spearman_at_10_suggested": summary["fbnet"].get(f"suggested@{small}:spearman"),
             "fbnet_spearman_goal": GOAL_SPEARMAN_10,
             "all_acc10_at_50_suggested": summary["all"].get(f"suggested@{large}:acc10"), "acc10_goal": GOAL_ACC10_50}
    goals["spearman_goal_met"] = bool(goals["fbnet_spearman_at_10_suggested"] >= GOAL_SPEARMAN_10)
    goals["acc10_goal_met"] = bool(goals["all_acc10_at_50_suggested"] >= GOAL_ACC10_50)
    for group, values in summary.items():
        print(f"{group:9s} " + "  ".join(f"{k} {v:.3f}" for k, v in values.items()))
    print(f"FBNet, 10 suggested: Spearman {goals['fbnet_spearman_at_10_suggested']:.3f} (goal ≥ {GOAL_SPEARMAN_10}); "
          f"all devices, 50 suggested: {goals['all_acc10_at_50_suggested']:.1%} within ±10 % (goal ≥ 90 %)")
    if args.json:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "few_shot.json").write_text(json.dumps({"benchmark": "few_shot", "sizes": sizes, "seeds": args.seeds,
                                                           "goals": goals, "summary": summary, "devices": rows,
                                                           "seconds": round(time.perf_counter() - start, 1)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
