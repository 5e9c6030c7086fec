"""Hypervolume against real evaluations for random, NSGA-II, evolution and the surrogate searcher.

Two inherited-accuracy problems, each with a supernet the benchmark trains (kept under
results/supernets/, reused when present): the tiny mixed-attention transformer on MNIST-1D, and EMOv2's
tiny conv space on "hard digits" (scikit-learn's digits in shifted, noisy copies, written as an `npy` task:
plain digits are solved by every subnet, which leaves nothing to rank). Objectives: inherited accuracy
(maximised) and predicted latency on a Pixel 4 (minimised). Every run of a problem shares one evaluator
cache (an arch has one accuracy) and one reference point (from the union of every run), so curves compare.

Goals (issue: predictor-in-the-loop search): `surrogate` reaches NSGA-II's mean hypervolume at N
evaluations with at most N/4 (`speedup_vs_nsga2` = N / the evaluations it needed, ≥ 4), and the surrogate's
Kendall τ on held-out evaluated subnets is ≥ 0.8 after 50 evaluations (`surrogate_tau`: fitted on a
surrogate run's first 50 trials, scored on the random runs' subnets it has not seen). Measured accuracy is
itself noisy (a finite validation set), so the JSON also gives `noise_ceiling_tau`: how well 60 subnets'
accuracies on the validation set rank their accuracies on an independent one, the most any surrogate can reach.
`surrogate-no-anchors` is the same searcher without the smallest and largest subnet as its first two trials
(`speedup_vs_nsga2_no_anchors`): how much of the speed-up the two anchors alone explain.

    OMP_NUM_THREADS=1 python benchmarks/surrogate_search.py --json              # both problems, ~40 min on 2 cores
    OMP_NUM_THREADS=1 python benchmarks/surrogate_search.py --only mixed-attention --seeds 2 --trials 100
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

from hwnas.predictors import metrics
from hwnas.predictors._surrogate import SurrogateEnsemble
from hwnas.search import Experiment, parse_spec
from hwnas.search.objectives import ObjectiveSet
from hwnas.search.pareto import TrialRow, hypervolume, minimisation_matrix, reference_point
from hwnas.search_spaces import Arch

RESULTS = Path(__file__).parent / "results"
DEVICE = "pixel4"
TAU_AFTER = 50
# name: space, preset, task, task options (None: written by `hard_digits`), training settings
PROBLEMS: dict[str, tuple[str, str, str, dict[str, Any] | None, dict[str, Any]]] = {
    "mixed-attention": ("mixed-attention", "tiny", "mnist1d", {"num_samples": 12000}, dict(epochs=8, lr=2e-3, num_random=2)),
    "emov2": ("emov2", "tiny", "npy", None, dict(epochs=5, lr=3e-3, num_random=2)),
}
SEARCHERS: dict[str, dict[str, Any]] = {
    "random": {"kind": "optuna", "sampler": "random"},
    "nsga2": {"kind": "optuna", "sampler": "nsga2", "options": {"population_size": 20}},
    "evolution": {"kind": "evolution", "options": {"population_size": 20, "parents": 6}},
    "surrogate": {"kind": "optuna", "sampler": "surrogate"},
    # ablation: the same searcher without its first two trials being the smallest and the largest subnet
    "surrogate-no-anchors": {"kind": "optuna", "sampler": "surrogate", "options": {"anchors": False}},
}
SURROGATES = ("surrogate", "surrogate-no-anchors")


def hard_digits(out: Path, copies: int = 6, shift: int = 6, noise: float = 2.5, seed: int = 0) -> dict[str, Any]:
    """Digits in `copies` randomly shifted copies with Gaussian noise, as `npy` task files in `out`."""
    from hwnas.tasks import get_task

    if (out / "x_val.npy").is_file():
        return {"path": str(out)}
    digits, rng = get_task("digits"), np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for suffix, x, y in (("", digits.x_train, digits.y_train), ("_val", digits.x_val, digits.y_val)):
        images, labels = x.numpy(), y.numpy()
        copies_x = []
        for _ in range(copies):
            dx, dy = (int(v) for v in rng.integers(-shift, shift + 1, size=2))
            moved = np.roll(images, (dx, dy), axis=(2, 3))
            copies_x.append(moved + noise * rng.standard_normal(moved.shape))
        np.save(out / f"x{suffix}.npy", np.concatenate(copies_x).astype(np.float32))
        np.save(out / f"y{suffix}.npy", np.tile(labels, copies))
    return {"path": str(out)}


def second_validation(name: str) -> Any:
    """An independent validation set of the problem's task (other samples, or other shifts and noise)."""
    from hwnas.tasks import get_task

    _, _, task_name, options, _ = PROBLEMS[name]
    if options is not None:
        return get_task(task_name, **{**options, "seed": 7})
    return get_task(task_name, **hard_digits(RESULTS / "data" / "hard-digits-second", seed=1))


def noise_ceiling(name: str, supernet: Path, experiment: Experiment, rows: list[TrialRow], n: int = 60) -> float:
    """Kendall τ between `n` subnets' accuracies on the validation set and on an independent one: how well
    even a perfect surrogate could rank the measured accuracies."""
    from hwnas.evaluators import InheritedAccuracyEvaluator

    complete = [r for r in rows if r.state == "COMPLETE"][:n]
    other = InheritedAccuracyEvaluator(experiment.space, supernet, second_validation(name))
    again = other.evaluate([Arch(r.arch) for r in complete])
    return metrics.kendall_tau([r.metrics["accuracy"] for r in complete], [v["accuracy"] for v in again])


def trained_supernet(name: str, retrain: bool) -> Path:
    """The problem's supernet directory, trained here unless already there."""
    from hwnas.training import TrainSettings, train_supernet
    from hwnas.training.tasks import space_and_task

    space_name, preset, task_name, options, settings = PROBLEMS[name]
    out = RESULTS / "supernets" / f"surrogate-{name}"
    if (out / "supernet.json").is_file() and not retrain:
        return out
    options = options if options is not None else hard_digits(RESULTS / "data" / "hard-digits")
    space, task, used = space_and_task(space_name, preset, task_name, options)
    train_supernet(space, task, TrainSettings(**settings), out, task_name=task_name, task_options=used, force=True, progress=True)
    return out


def problem_spec(name: str, supernet: Path, searcher: dict[str, Any], trials: int, seed: int) -> dict[str, Any]:
    space_name, preset = PROBLEMS[name][:2]
    return {"name": f"bench-{seed}", "space": {"name": space_name, "preset": preset}, "supernet": str(supernet),
            "objectives": [{"metric": "accuracy", "direction": "maximize"},
                           {"metric": "latency_ms", "device": DEVICE, "direction": "minimize"}],
            "searcher": searcher, "budget": {"trials": trials}, "seed": seed}


def curve(rows: list[TrialRow], keys: list[str], reference: list[float], upto: int) -> list[float]:
    """Hypervolume after each of the first `upto` evaluations."""
    return [hypervolume(rows[:n], keys, ["maximize", "minimize"], reference) for n in range(1, upto + 1)]


def held_out_tau(experiment: Experiment, random_rows: list[TrialRow], mlp: bool = False) -> float:
    """Kendall τ of a surrogate fitted on the run's first `TAU_AFTER` trials, on random-search subnets it has not seen
    (`mlp`: members with an MLP beside their trees)."""
    sampler = experiment.study.sampler
    rows = [r for r in experiment.rows() if r.state == "COMPLETE"][:TAU_AFTER]
    seen = {r.arch_id for r in rows}
    test = list({r.arch_id: r for r in random_rows if r.state == "COMPLETE" and r.arch_id not in seen}.values())
    points = [Arch(r.arch) for r in rows]
    model = SurrogateEnsemble(sampler.members, mlp, seed=0)
    model.fit(sampler.features.rows(points), [r.metrics["accuracy"] for r in rows])
    predicted = model.predict(sampler.features.rows([Arch(r.arch) for r in test]))
    return metrics.kendall_tau([r.metrics["accuracy"] for r in test], predicted)


def run_problem(name: str, trials: int, surrogate_trials: int, seeds: int, retrain: bool) -> dict[str, Any]:
    supernet = trained_supernet(name, retrain)
    shared: ObjectiveSet | None = None
    runs: dict[str, list[Experiment]] = {searcher: [] for searcher in SEARCHERS}
    seconds: dict[str, float] = dict.fromkeys(SEARCHERS, 0.0)
    jobs = [(searcher, seed) for seed in range(seeds) for searcher in SEARCHERS]
    for searcher, seed in track(jobs, description=f"{name}: searching"):
        budget = surrogate_trials if searcher in SURROGATES else trials
        spec = parse_spec(problem_spec(name, supernet, SEARCHERS[searcher], budget, seed))
        experiment = Experiment(spec, ":memory:", objectives=shared)
        shared = experiment.objectives
        start = time.perf_counter()
        experiment.run()
        seconds[searcher] += time.perf_counter() - start
        runs[searcher].append(experiment)
    keys = ["accuracy", f"latency_ms@{DEVICE}"]
    rows = {s: [[r for r in e.rows() if r.state != "FAIL"] for e in runs[s]] for s in SEARCHERS}
    union = [r for per_run in rows.values() for run in per_run for r in run if r.state == "COMPLETE"]
    data = minimisation_matrix(union, keys, ["maximize", "minimize"])
    reference = list(reference_point(data))
    curves = {s: [statistics.mean(c) for c in zip(*(curve(run, keys, reference, surrogate_trials if s in SURROGATES else trials)
                                                  for run in rows[s]))] for s in SEARCHERS}
    target = curves["nsga2"][trials - 1]
    needed = next((n + 1 for n, hv in enumerate(curves["surrogate"]) if hv >= target), None)
    needed_no_anchors = next((n + 1 for n, hv in enumerate(curves["surrogate-no-anchors"]) if hv >= target), None)
    random_rows = [r for run in rows["random"] for r in run]
    taus = [held_out_tau(e, random_rows) for e in runs["surrogate"]]
    taus_mlp = [held_out_tau(e, random_rows, mlp=True) for e in runs["surrogate"]]
    ceiling = noise_ceiling(name, supernet, runs["random"][0], rows["random"][0])
    checkpoints = sorted({n for n in (10, 25, 50, 100, 150, 200, 300, 400) if n <= trials} | {surrogate_trials, trials})
    return {
        "space": PROBLEMS[name][0], "preset": PROBLEMS[name][1], "task": PROBLEMS[name][2], "supernet": str(supernet),
        "objectives": keys, "trials": trials, "surrogate_trials": surrogate_trials, "seeds": seeds, "reference": reference,
        "hypervolume": {s: {n: round(c[n - 1], 6) for n in checkpoints if n <= len(c)} for s, c in curves.items()},
        "nsga2_hv_at_n": target, "surrogate_evaluations_to_match": needed,
        "speedup_vs_nsga2": None if needed is None else round(trials / needed, 2),
        "speedup_at_least": None if needed is not None else round(trials / surrogate_trials, 2),
        "speedup_vs_nsga2_no_anchors": None if needed_no_anchors is None else round(trials / needed_no_anchors, 2),
        "surrogate_tau": round(statistics.mean(taus), 3), "surrogate_tau_per_seed": [round(t, 3) for t in taus],
        "surrogate_tau_with_mlp": round(statistics.mean(taus_mlp), 3),
        "noise_ceiling_tau": round(ceiling, 3),
        "goal_speedup_met": needed is not None and needed <= trials / 4,
        "goal_tau_met": statistics.mean(taus) >= 0.8,
        "distinct_archs_evaluated": len({r.arch_id for r in union}),
        "search_seconds": {s: round(v, 1) for s, v in seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PROBLEMS), action="append")
    parser.add_argument("--trials", type=int, default=200, help="N: the evaluations of random, NSGA-II and evolution")
    parser.add_argument("--surrogate-trials", type=int, default=None, help="the surrogate's budget (default N/2)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--retrain", action="store_true", help="train the supernets again")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    surrogate_trials = args.surrogate_trials or args.trials // 2
    start = time.perf_counter()
    problems = {name: run_problem(name, args.trials, surrogate_trials, args.seeds, args.retrain)
                for name in args.only or PROBLEMS}
    for name, result in problems.items():
        print(f"{name}: NSGA-II HV at {args.trials} = {result['nsga2_hv_at_n']:.4g}; surrogate matched it after "
              f"{result['surrogate_evaluations_to_match']} evaluations (speedup {result['speedup_vs_nsga2']}); "
              f"surrogate τ after {TAU_AFTER} = {result['surrogate_tau']} (with MLPs {result['surrogate_tau_with_mlp']}; "
              f"two validation sets agree to τ = {result['noise_ceiling_tau']})")
        for searcher, hv in result["hypervolume"].items():
            print(f"  {searcher:10s} " + "  ".join(f"{n}:{v:.4g}" for n, v in hv.items()))
    summary = {"problems": problems, "device": DEVICE, "machine": platform.processor() or platform.machine(),
               "seconds": round(time.perf_counter() - start, 1)}
    if args.json:
        out = RESULTS / "surrogate_search.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(summary, indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
