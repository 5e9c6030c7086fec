"""Trials per second with 1 and 2 Ray workers (goal: ≥ 1.7× with 2).

The trials are CPU-bound (by default the NASWOT proxy of cifar10-vit subnets at 224×224; Ray gives each
worker one CPU and one thread). With `--preset tiny` a trial takes milliseconds and Ray's per-trial
overhead dominates instead. A measured-latency objective
(`latency_ms@local-cpu`) holds the device lock, so on one CPU device it serialises by design; that is
the case the lock exists for, and it is not what scaling measures. Writes benchmarks/results/ray_scaling.json.

    python benchmarks/ray_scaling.py --json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hwnas.search import Experiment, parse_spec


def spec(workers: int, trials: int, preset: str, proxy_batch: int) -> dict:
    return {"name": f"ray-scaling-{workers}", "space": {"name": "mixed-attention", "preset": preset},
            "objectives": [{"metric": "params_m", "direction": "minimize"}, {"metric": "naswot", "direction": "maximize"}],
            "task": {"name": "synthetic", "options": {"proxy_batch": proxy_batch}},
            "searcher": {"kind": "ray", "sampler": "random", "workers": workers}, "budget": {"trials": trials}, "seed": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--preset", default="cifar10-vit", help="mixed-attention preset (tiny: cheap trials, overhead-bound)")
    parser.add_argument("--proxy-batch", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rates = {}
    for workers in (1, 2):
        experiment = Experiment(parse_spec(spec(workers, args.trials, args.preset, args.proxy_batch)), ":memory:")
        start = time.perf_counter()
        experiment.run()
        elapsed = time.perf_counter() - start
        rates[workers] = args.trials / elapsed
        print(f"{workers} worker(s): {args.trials} trials in {elapsed:.1f} s = {rates[workers]:.2f} trials/s", flush=True)
    summary = {"trials": args.trials, "preset": args.preset, "proxy_batch": args.proxy_batch, "trials_per_s": rates, "speedup": rates[2] / rates[1], "goal": 1.7,
               "goal_met": rates[2] / rates[1] >= 1.7}
    print(json.dumps(summary))
    if args.json:
        out = Path(__file__).parent / "results" / "ray_scaling.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
