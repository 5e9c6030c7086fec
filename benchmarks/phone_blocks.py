"""EMOv2 on phones through nn-Meter blocks: coverage, LUT exactness and how far the unit costs extrapolate.

The decomposition's MACs against the subnet's own (named archs), then for each shipped phone profile (pixel1/4/6) and 100 random `emov2/imagenet` subnets (224×224, seeds 0–99):
the share of subnets inside the profile's domain, and per in-domain subnet the share of its block parts
priced from the table (`lut`: exact measured keys), by the per-kind regressor, or by unit costs — by
count and by milliseconds. Every `lut` part is checked against the raw table in $HWNAS_DATA (must be
exact). The unit-cost extrapolation check fits each kind's unit costs on blocks at most 1/f of the
largest measured and prices the larger ones (f = 1.5, 2, 3): the evidence for `EXTRAPOLATION`.

    python benchmarks/phone_blocks.py --json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import time
from pathlib import Path

import numpy as np

from hwnas.errors import OutOfDomainError
from hwnas.hw_profiles import _nnmeter, get_profile
from hwnas.hw_profiles._predict import TIERS, phone_block_report
from hwnas.predictors import OpCostLinear, metrics
from hwnas.search_spaces import get_space

PHONES = ("pixel1", "pixel4", "pixel6")
GROUPS = (("conv", "transds"), ("transattn",), ("transffn",))


def _data_dir() -> Path:
    return Path(os.environ.get("HWNAS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "nnmeter-mobile-lut"


def macs_ratio(space, arch) -> float:  # noqa: ANN001
    """MACs of the nn-Meter parts over the subnet's conv, attention and linear MACs (1 = nothing lost)."""
    from hwnas.hw_profiles._blocks import nnmeter_block_parts

    macs = 0.0
    for p in nnmeter_block_parts(space, arch):
        row = p.physical if p.key is None else _nnmeter.block_features(_nnmeter.parse_block_key(p.key))[0]
        macs += p.weight * sum(v for name, v in zip(_nnmeter.PHYSICAL_NAMES[p.kind], row) if name.endswith("macs"))
    return macs / sum(op.macs for op in space.ops(arch) if op.kind in ("conv2d", "window_attention", "linear"))


def coverage(device: str, n: int) -> dict:
    profile, space = get_profile(device), get_space("emov2", "imagenet")
    table = json.loads((_data_dir() / f"{device}_lut_ln_v3.json").read_text())
    by_count, by_ms, reasons, lut_err, totals = [], [], collections.Counter(), 0.0, []
    start = time.time()
    for seed in range(n):
        try:
            report = phone_block_report(profile, space, space.sample(seed))
        except OutOfDomainError as exc:
            reasons[str(exc).split(": ", 1)[1].split(":")[0]] += 1
            continue
        total = sum(p.ms for p in report)
        totals.append(total)
        by_count.append([sum(p.tier == t for p in report) / len(report) for t in TIERS])
        by_ms.append([sum(p.ms for p in report if p.tier == t) / total for t in TIERS])
        for p in report:
            if p.tier == "lut":
                lut_err = max(lut_err, abs(p.ms - p.part.weight * table[p.part.key]) / (p.part.weight * table[p.part.key]))
    named = {}
    for name in ("emov2-1m", "emov2-2m", "emov2-5m", "emov2-20m"):
        try:
            named[name] = round(sum(p.ms for p in phone_block_report(profile, space, space.named_arch(name))), 2)
        except OutOfDomainError as exc:
            named[name] = f"out of domain: {exc}"
    mean = lambda rows: dict(zip(TIERS, np.round(np.mean(rows, axis=0), 4).tolist())) if rows else {}  # noqa: E731
    return {"subnets": n, "in_domain": len(totals), "out_of_domain_first_block": dict(reasons.most_common()),
            "share_of_parts": mean(by_count), "share_of_ms": mean(by_ms), "lut_max_rel_error": lut_err,
            "latency_ms": {"median": round(float(np.median(totals)), 2), "min": round(min(totals), 2), "max": round(max(totals), 2)}
            if totals else {}, "named_archs_ms": named, "seconds": round(time.time() - start, 2)}


def extrapolation(device: str) -> dict:
    table = json.loads((_data_dir() / f"{device}_lut_ln_v3.json").read_text())
    keys = list(table)
    y = np.array([table[k] for k in keys])
    kinds, matrix = _nnmeter.block_matrix(keys)
    kinds = np.array(kinds)
    result = {}
    for group in GROUPS:
        mask = np.isin(kinds, group)
        physical, target = matrix[mask, : _nnmeter.PHYSICAL_WIDTH[group[0]]], y[mask]
        top = physical.max(axis=0)
        top[top == 0] = 1
        size = (physical[:, 1:] / top[1:]).max(axis=1)  # column 0 is the per-block constant
        rows = {}
        for factor in (1.5, 2.0, 3.0):
            train = size <= 1 / factor
            model = OpCostLinear().fit(physical[train], target[train])
            test = ~train & (physical <= physical[train].max(axis=0) * factor + 1e-9).all(axis=1)
            pred = model.predict(physical[test])
            rows[f"{factor:g}x"] = {"n_train": int(train.sum()), "n_test": int(test.sum()),
                                    "mape": round(metrics.mape(target[test], pred), 4), "acc10": round(metrics.acc10(target[test], pred), 4)}
        result["+".join(group)] = rows
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-n", type=int, default=100, help="random subnets per phone")
    args = parser.parse_args()
    space = get_space("emov2", "imagenet")
    out = {"benchmark": "phone_blocks", "space": "emov2/imagenet 224x224",
           "decomposition_macs_ratio": {name: round(macs_ratio(space, space.named_arch(name)), 4)
                                        for name in ("emov2-1m", "emov2-2m", "emov2-5m", "emov2-20m")},
           "phones": {d: {"coverage": coverage(d, args.n), "unit_cost_extrapolation": extrapolation(d)} for d in PHONES}}
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "phone_blocks.json").write_text(json.dumps(out, indent=2))
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"parts' MACs / subnet's MACs: {out['decomposition_macs_ratio']}")
    for device, entry in out["phones"].items():
        c = entry["coverage"]
        print(f"{device}: {c['in_domain']}/{c['subnets']} in domain; parts {c['share_of_parts']}; ms {c['share_of_ms']}; "
              f"LUT max rel error {c['lut_max_rel_error']:.1e}; named {c['named_archs_ms']}")
        print(f"  unit-cost extrapolation: {entry['unit_cost_extrapolation']}")


if __name__ == "__main__":
    main()
