"""Hypervolume against trials for random, NSGA-II, TPE and evolution on one fixed problem.

Goal: the best searcher reaches random search's final hypervolume (at --trials) within 100 trials.
All runs share one evaluator cache (same arch, same value), and one reference point computed from the
union of every run, so curves are comparable. Writes benchmarks/results/search_efficiency.json.

    python benchmarks/search_efficiency.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.progress import track

from hwnas.search import Experiment, parse_spec
from hwnas.search.objectives import ObjectiveSet
from hwnas.search.pareto import hypervolume, minimisation_matrix

SEARCHERS = {
    "random": {"kind": "optuna", "sampler": "random"},
    "nsga2": {"kind": "optuna", "sampler": "nsga2", "options": {"population_size": 20}},
    "tpe": {"kind": "optuna", "sampler": "tpe", "options": {"multivariate": True}},
    "evolution": {"kind": "evolution", "options": {"population_size": 20, "parents": 6}},
}
CHECKPOINTS = (25, 50, 100, 200, 400)


def problem(args: argparse.Namespace, searcher: dict, seed: int) -> dict:
    return {"name": f"bench-{seed}", "space": {"name": args.space, "preset": args.preset}, "task": {"name": args.task},
            "objectives": [{"metric": "naswot", "direction": "maximize"}, {"metric": args.cost_metric, "direction": "minimize",
                           **({"device": args.device} if args.device else {})}],
            "searcher": searcher, "budget": {"trials": args.trials}, "seed": seed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mixed-attention")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--cost-metric", default="flops_m")
    parser.add_argument("--device", default=None)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    shared: ObjectiveSet | None = None
    runs: dict[str, list[list]] = {name: [] for name in SEARCHERS}
    start = time.perf_counter()
    jobs = [(name, seed) for seed in range(args.seeds) for name in SEARCHERS]
    for name, seed in track(jobs, description="searching"):
        spec = parse_spec(problem(args, SEARCHERS[name], seed))
        experiment = Experiment(spec, ":memory:", objectives=shared)
        shared = experiment.objectives
        experiment.run()
        runs[name].append(experiment.rows())
    keys = parse_spec(problem(args, SEARCHERS["random"], 0)).objective_keys
    directions = ["maximize", "minimize"]
    union = [row for rows_list in runs.values() for rows in rows_list for row in rows if row.state == "COMPLETE"]
    data = minimisation_matrix(union, keys, directions)
    reference = list(data.max(axis=0) + 0.1 * (data.max(axis=0) - data.min(axis=0)))
    curves = {name: {n: statistics.mean(hypervolume(rows[:n], keys, directions, reference) for rows in rows_list)
                     for n in CHECKPOINTS if n <= args.trials} for name, rows_list in runs.items()}
    random_final = curves["random"][max(curves["random"])]
    best_at_100 = max(curve.get(100, 0.0) for name, curve in curves.items() if name != "random")
    summary = {"problem": problem(args, {}, 0) | {"seeds": args.seeds}, "reference": reference, "curves": curves,
               "random_final_hv": random_final, "best_hv_at_100": best_at_100,
               "goal_met": best_at_100 >= random_final, "seconds": round(time.perf_counter() - start, 1)}
    for name, curve in curves.items():
        print(f"{name:10s} " + "  ".join(f"{n}:{hv:.4g}" for n, hv in curve.items()))
    print(f"random at {args.trials}: {random_final:.4g}; best other searcher at 100: {best_at_100:.4g}; goal met: {summary['goal_met']}")
    if args.json:
        out = Path(__file__).parent / "results" / "search_efficiency.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(summary, indent=2, default=str))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
