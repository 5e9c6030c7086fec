"""Arch predictions per second of a shipped profile on one core, batched, from `Arch` objects to ms.

Times `predict_archs_ms(profile, space, archs)` (domain checks, HAT features, both parts' predictors)
on batches of sampled archs of `mixed-attention/hat-wmt14-en-de`, with torch and BLAS on one thread.
`archs_per_s` is wall clock (best of the rounds); `archs_per_cpu_s` is CPU time of this process, which
other processes loading the machine do not inflate.

    python benchmarks/predictor_throughput.py --json [--profile xeon] [--batch 10000]
"""

from __future__ import annotations

import argparse
import json
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import time  # noqa: E402

from hwnas.hw_profiles import get_profile, predict_archs_ms  # noqa: E402
from hwnas.search_spaces import get_space  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", default="xeon")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    archs = [space.sample(i) for i in range(args.batch)]
    archs = [a.replace(encoder_attn=["softmax"] * a["encoder_layers"], decoder_attn=["softmax"] * a["decoder_layers"]) for a in archs]
    profile = get_profile(args.profile)
    predict_archs_ms(profile, space, archs[:10])  # load the model once
    best = best_cpu = float("inf")
    for _ in range(args.rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        predict_archs_ms(profile, space, archs)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    result = {"benchmark": "predictor_throughput", "profile": args.profile, "batch": args.batch,
              "archs_per_s": round(args.batch / best), "seconds_per_batch": round(best, 4), "threads": 1,
              "archs_per_cpu_s": round(args.batch / best_cpu),
              "load_average_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, indent=2) if args.json else f"{result['archs_per_s']} archs/s ({args.profile}, batch {args.batch})")


if __name__ == "__main__":
    main()
