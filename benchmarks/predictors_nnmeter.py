"""nn-Meter block tables: share of held-out blocks within ±10%, per block kind, per phone.

Runs exactly `hwnas profile calibrate --source nnmeter-lut` (20% of each kind's keys held out, priced
by the per-kind regressors) on every `*.json` in $HWNAS_DATA/nnmeter-mobile-lut.

    python benchmarks/predictors_nnmeter.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from hwnas.hw_profiles import calibrate_nnmeter_lut

TARGET = 0.97


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(os.environ.get("HWNAS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "nnmeter-mobile-lut"
    phones = {}
    for path in sorted(folder.glob("*.json")):
        start = time.time()
        profile, _ = calibrate_nnmeter_lut(path)
        per_kind = {k: {"acc10": round(v["acc10"], 4), "acc5": round(v["acc5"], 4), "mape": round(v["mape"], 4), "n_test": v["n"]}
                    for k, v in profile.validation["per_kind"].items()}
        phones[profile.device] = {"file": path.name, "per_kind": per_kind, "overall_acc10": round(profile.metrics["acc10"], 4),
                                  "meets_target": all(v["acc10"] >= TARGET for v in per_kind.values()),
                                  "fit_s": round(time.time() - start, 1)}
    out = {"benchmark": "predictors_nnmeter", "target_acc10_per_kind": TARGET, "phones": phones}
    print(json.dumps(out, indent=2) if args.json else "\n".join(
        f"{name}: " + ", ".join(f"{k} {v['acc10']:.3f}" for k, v in p["per_kind"].items()) for name, p in phones.items()))


if __name__ == "__main__":
    main()
