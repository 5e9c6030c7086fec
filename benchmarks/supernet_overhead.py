"""Forward time of a supernet running a subnet vs. the extracted subnet (goal: ratio ≤ 1.15).

Both run in the same process, interleaved, so machine noise hits them alike. Prints a table and, with
--json, writes benchmarks/results/supernet_overhead.json.

    python benchmarks/supernet_overhead.py --json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from pathlib import Path

import torch

from hwnas.search_spaces import get_space

CASES = [("mixed-attention", "cifar10-vit", None), ("mixed-attention", "hat-wmt14-en-de", None),
         ("lighthubert", "base", (16000,))]


def median_ms(fn, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure(name: str, preset: str, shape, batch: int, repeats: int, n_archs: int, seed: int) -> list[dict]:  # noqa: ANN001
    torch.manual_seed(seed)
    space = get_space(name, preset)
    supernet = space.build_supernet().eval()
    inputs = space.example_input(batch, shape)
    rng = random.Random(seed)
    archs = [space.min_arch(), space.max_arch()] + [space.sample(rng) for _ in range(max(0, n_archs - 2))]
    rows = []
    for arch in archs:
        supernet.set_active(arch)
        subnet = supernet.extract(arch).eval()
        with torch.inference_mode():
            for _ in range(3):  # warm-up
                supernet(*inputs), subnet(*inputs)
            super_ms, sub_ms = [], []
            for _ in range(repeats):  # interleave so drift affects both
                super_ms.append(median_ms(lambda: supernet(*inputs), 1))
                sub_ms.append(median_ms(lambda: subnet(*inputs), 1))
        s, e = statistics.median(super_ms), statistics.median(sub_ms)
        rows.append({"space": name, "preset": preset, "arch_id": arch.id, "batch": batch,
                     "supernet_ms": round(s, 3), "extracted_ms": round(e, 3), "ratio": round(s / e, 4)})
        print(f"{name}/{preset} {arch.id}  supernet {s:8.2f} ms  extracted {e:8.2f} ms  ratio {s / e:.3f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--archs", type=int, default=4, help="min, max and random subnets per space")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="run one space/preset, e.g. lighthubert/base")
    parser.add_argument("--json", action="store_true", help="write benchmarks/results/supernet_overhead.json")
    args = parser.parse_args()
    rows = []
    for name, preset, shape in CASES:
        if args.only and args.only != f"{name}/{preset}":
            continue
        rows += measure(name, preset, shape, args.batch, args.repeats, args.archs, args.seed)
    ratios = [r["ratio"] for r in rows]
    summary = {"median_ratio": round(statistics.median(ratios), 4), "max_ratio": max(ratios), "goal": 1.15,
               "meets_goal": statistics.median(ratios) <= 1.15, "threads": torch.get_num_threads(),
               "torch": torch.__version__, "machine": platform.processor() or platform.machine()}
    print(json.dumps(summary))
    if args.json:
        out = Path(__file__).parent / "results" / "supernet_overhead.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
