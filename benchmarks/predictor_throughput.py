"""Arch predictions per second of a shipped profile on one core, batched, from `Arch` objects to ms.

Times `predict_archs_ms(profile, space, archs)` (validation, the space's latency blocks, their op rows, the
unit costs and the space's correction) on batches of sampled archs of `mixed-attention/hat-wmt14-en-de`, with
torch and BLAS on one thread. `archs_per_s` is wall clock (best of the rounds, after one round on other archs of
the space, which prices the layers they share); `archs_per_cpu_s` is CPU time of this process, which other
processes loading the machine do not inflate. `spaces` is the same for every paper preset on `--spaces-profile`
(an op-level profile pricing them all).

    python benchmarks/predictor_throughput.py --json [--profile xeon] [--batch 10000]
"""

from __future__ import annotations

import argparse
import json
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

from hwnas.hw_profiles import get_profile, predict_archs_ms  # noqa: E402
from hwnas.search_spaces import get_space  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The papers' presets (as `coverage.py` lists them).
PAPER_PRESETS = [("emov2", "imagenet"), ("mixed-attention", "hat-wmt14-en-de"), ("mixed-attention", "cifar10-vit"),
                 ("lighthubert", "base"), ("lighthubert", "small"), ("mobiledets", "ssdlite-coco")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", default="xeon")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spaces-profile", default="titanxp")
    args = parser.parse_args()
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    archs = [space.sample(i) for i in range(args.batch)]
    archs = [a.replace(encoder_attn=["softmax"] * a["encoder_layers"], decoder_attn=["softmax"] * a["decoder_layers"]) for a in archs]
    best, best_cpu = timed(get_profile(args.profile), space, archs, args.rounds)
    result = {"benchmark": "predictor_throughput", "profile": args.profile, "batch": args.batch,
              "archs_per_s": round(args.batch / best), "seconds_per_batch": round(best, 4), "threads": 1,
              "archs_per_cpu_s": round(args.batch / best_cpu), "spaces_profile": args.spaces_profile, "spaces": {}}
    spaces_profile = get_profile(args.spaces_profile)
    for name, preset in PAPER_PRESETS:
        other = get_space(name, preset)
        seconds, _ = timed(spaces_profile, other, [other.sample(i) for i in range(args.batch)], args.rounds)
        result["spaces"][f"{name}/{preset}"] = round(args.batch / seconds)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(result, indent=2))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "predictor_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    else:
        print(f"{result['archs_per_s']} archs/s ({args.profile}, batch {args.batch})")
        for key, rate in result["spaces"].items():
            print(f"  {key:36s} {rate:8d} archs/s on {args.spaces_profile}")


def timed(profile, space, archs: list, rounds: int) -> tuple[float, float]:  # noqa: ANN001
    """Best wall and CPU seconds of pricing `archs`, after a round on as many other archs of the space: the blocks
    (layers) a search meets over and over are priced by then, but no arch of the timed batch has been seen."""
    predict_archs_ms(profile, space, [_unlike(space, archs[0], i) for i in range(len(archs), 2 * len(archs))])
    best = best_cpu = float("inf")
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        predict_archs_ms(profile, space, archs)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best, best_cpu


def _unlike(space, first, seed: int):  # noqa: ANN001, ANN202
    """A sampled arch of `space`, all-softmax where the timed archs are (`first` has the HAT space's fields)."""
    arch = space.sample(seed)
    if "encoder_attn" in first and set(first["encoder_attn"]) == {"softmax"}:
        arch = arch.replace(encoder_attn=["softmax"] * arch["encoder_layers"], decoder_attn=["softmax"] * arch["decoder_layers"])
    return arch


if __name__ == "__main__":
    main()
