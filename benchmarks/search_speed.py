"""Search at predictor speed: `hwnas run` against a bare Optuna loop on the same predicted objectives.

Problem (the search-speed issue's): HAT's WMT'14 space with softmax attention, objectives `params_m`,
`latency_ms@raspberrypi`, `latency_ms@xeon`, NSGA-II with population 50, `--trials` trials. Timed in one run:
- `bare`: Optuna's NSGA-II on in-memory storage calling hwnas's evaluators per trial (no storage, no runner);
- `hwnas run` on the default SQLite storage and on journal storage, end to end (a fresh process, start-up
  included), and `Experiment.run()` on SQLite in this process (the search alone, as the bare loop is timed);
- a HAT-scale evolution (population 125, parents 25, `--evolution-trials`, 3,750 = 30 generations) on SQLite;
- a scale run: `--scale-trials` random trials on SQLite, with the run's peak resident memory, the time a fresh
  process takes to load that experiment the way the dashboard does (`TrialStore.experiment`, imports included),
  and the time and memory a fresh process takes to reopen it (what a resumed run does before its first trial).
  The dashboard's first paint itself is `benchmarks/dashboard_load.py --storage URL --experiment NAME`.
Goals: `hwnas run` trials/s ≥ 1.0× bare; the HAT-scale evolution ≤ 10 s wall; 100,000 trials ≤ 1 GB resident
and the dashboard's load ≤ 3 s. Writes benchmarks/results/search_speed.json.

    python benchmarks/search_speed.py --json [--trials 300] [--evolution-trials 3750] [--scale-trials 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import yaml

from hwnas.evaluators import CountEvaluator
from hwnas.evaluators.latency import LatencyEvaluator
from hwnas.search_spaces import get_space

SPACE = {"name": "mixed-attention", "preset": "hat-wmt14-en-de", "options": {"attention": ["softmax"]}}
OBJECTIVES = [{"metric": "params_m", "direction": "minimize"},
              {"metric": "latency_ms", "device": "raspberrypi", "direction": "minimize"},
              {"metric": "latency_ms", "device": "xeon", "direction": "minimize"}]


def bare_optuna(trials: int) -> tuple[float, int]:
    """Seconds for Optuna alone (in-memory NSGA-II, the same space and evaluators, one arch per trial), and how
    many distinct archs its trials hold (it evaluates and counts repeats; `hwnas run`'s budget counts distinct archs)."""
    space = get_space(SPACE["name"], SPACE["preset"], **SPACE["options"])
    counts, pi, xeon = CountEvaluator(space), LatencyEvaluator(space, "raspberrypi"), LatencyEvaluator(space, "xeon")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize"] * 3, sampler=optuna.samplers.NSGAIISampler(population_size=50, seed=0))

    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        arch = space.suggest(trial)
        return (counts.evaluate([arch])[0]["params_m"], pi.evaluate([arch])[0]["latency_ms@raspberrypi"],
                xeon.evaluate([arch])[0]["latency_ms@xeon"])

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - start
    return seconds, len({space.from_params(t.params).id for t in study.trials})


def hwnas_run(folder: Path, name: str, searcher: dict, trials: int, storage: str) -> float:
    """Wall seconds of `hwnas run` in a fresh process (start-up included) to `trials` trials."""
    spec = folder / f"{name}.yaml"
    spec.write_text(yaml.safe_dump({"name": name, "space": SPACE, "objectives": OBJECTIVES, "searcher": searcher,
                                    "budget": {"trials": trials}}))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hwnas", "run", str(spec), "--storage", storage], check=True, capture_output=True)
    return time.perf_counter() - start


def in_process_run(folder: Path, searcher: dict, trials: int) -> float:
    """Seconds of `Experiment.run()` alone on a fresh SQLite file: the search, without imports and opening."""
    from hwnas.search import Experiment, parse_spec

    spec = parse_spec({"name": "in-process", "space": SPACE, "objectives": OBJECTIVES, "searcher": searcher,
                       "budget": {"trials": trials}})
    folder.mkdir(exist_ok=True)
    experiment = Experiment(spec, f"sqlite:///{folder}/in-process.db")
    start = time.perf_counter()
    experiment.run()
    return time.perf_counter() - start


def peak_rss_mb_of_children() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB


LOAD = """
import sys, time
start = time.perf_counter()
from hwnas.dashboard._data import TrialStore
data = TrialStore(sys.argv[1]).experiment(sys.argv[2])
print(time.perf_counter() - start)
"""


RESUME = """
import resource, sys, time, yaml
from hwnas.search import Experiment, parse_spec
spec = parse_spec(yaml.safe_load(open(sys.argv[1])))
start = time.perf_counter()
experiment = Experiment(spec, sys.argv[2])
left = experiment.remaining()
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, left)
"""


def resume_cost(spec: Path, storage: str) -> tuple[float, float]:
    """Seconds and peak MB for a fresh process to reopen a finished experiment and find its budget spent."""
    out = subprocess.run([sys.executable, "-c", RESUME, str(spec), storage], check=True, capture_output=True, text=True)
    seconds, peak_mb, _ = out.stdout.split()
    return float(seconds), float(peak_mb)


def dashboard_load_s(storage: str, name: str) -> float:
    """Seconds a fresh process takes to import the dashboard's data layer and load the experiment's trials."""
    out = subprocess.run([sys.executable, "-c", LOAD, storage, name], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--evolution-trials", type=int, default=3750)
    parser.add_argument("--long-trials", type=int, default=3000, help="the same comparison on a longer run (0 skips it)")
    parser.add_argument("--scale-trials", type=int, default=20000, help="0 skips the scale run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    nsga2 = {"kind": "optuna", "sampler": "nsga2", "options": {"population_size": 50}}
    evolution = {"kind": "evolution", "options": {"population_size": 125, "parents": 25}}
    with tempfile.TemporaryDirectory(prefix="hwnas-speed-") as tmp:
        folder = Path(tmp)
        bare, bare_distinct = bare_optuna(args.trials)
        sqlite = hwnas_run(folder, "nsga2-sqlite", nsga2, args.trials, f"sqlite:///{folder}/nsga2.db")
        in_process = in_process_run(folder, nsga2, args.trials)
        journal = hwnas_run(folder, "nsga2-journal", nsga2, args.trials, f"journal:///{folder}/nsga2.log")
        evolve = hwnas_run(folder, "evolution", evolution, args.evolution_trials, f"sqlite:///{folder}/evolution.db")
        long: dict[str, float | int] = {}
        if args.long_trials:  # start-up amortised, and Optuna's NSGA-II slowing as the study grows (both loops)
            long_bare, long_distinct = bare_optuna(args.long_trials)
            long_in_process = in_process_run(folder / "long", nsga2, args.long_trials)
            long_end_to_end = hwnas_run(folder, "nsga2-long", nsga2, args.long_trials, f"sqlite:///{folder}/long.db")
            long = {"trials": args.long_trials, "bare_optuna_s": long_bare, "bare_distinct_archs": long_distinct,
                    "experiment_run_sqlite_in_process_s": long_in_process, "hwnas_run_sqlite_s": long_end_to_end,
                    "speed_vs_bare": {"sqlite_in_process": long_bare / long_in_process, "sqlite": long_bare / long_end_to_end},
                    # new archs per second: the bare loop's trials include repeats, every hwnas trial is a new arch
                    "distinct_archs_per_s_vs_bare": {"sqlite_in_process": args.long_trials / long_in_process / (long_distinct / long_bare),
                                                     "sqlite": args.long_trials / long_end_to_end / (long_distinct / long_bare)}}
        scale: dict[str, float | int] = {}
        if args.scale_trials:
            rss_before = peak_rss_mb_of_children()
            url = f"sqlite:///{folder}/scale.db"
            wall = hwnas_run(folder, "scale", {"kind": "optuna", "sampler": "random"}, args.scale_trials, url)
            scale = {"trials": args.scale_trials, "wall_s": wall, "trials_per_s": args.scale_trials / wall,
                     "peak_rss_mb": max(rss_before, peak_rss_mb_of_children()),
                     "dashboard_load_s": dashboard_load_s(url, "scale"), "storage_mb": (folder / "scale.db").stat().st_size / 2**20}
            scale["resume_open_s"], scale["resume_peak_rss_mb"] = resume_cost(folder / "scale.yaml", url)
    result = {
        "trials": args.trials, "bare_optuna_s": bare, "bare_distinct_archs": bare_distinct, "hwnas_run_sqlite_s": sqlite, "hwnas_run_journal_s": journal,
        "experiment_run_sqlite_in_process_s": in_process,
        "per_trial_ms": {"bare": 1e3 * bare / args.trials, "sqlite": 1e3 * sqlite / args.trials, "journal": 1e3 * journal / args.trials,
                         "sqlite_in_process": 1e3 * in_process / args.trials},
        "speed_vs_bare": {"sqlite": bare / sqlite, "journal": bare / journal, "sqlite_in_process": bare / in_process},
        "evolution": {"trials": args.evolution_trials, "wall_s": evolve},
        "long": long,
        "scale": scale,
        "goals": {"hwnas_run_at_least_bare": bare / sqlite >= 1.0, "evolution_within_10_s": evolve <= 10.0},
    }
    if scale:
        result["goals"]["scale_rss_within_1_gb"] = scale["peak_rss_mb"] <= 1024
        result["goals"]["scale_dashboard_load_within_3_s"] = scale["dashboard_load_s"] <= 3.0
    print(f"bare Optuna {bare:.2f} s; hwnas run: SQLite {sqlite:.1f} s ({bare / sqlite:.3f}× bare), journal {journal:.1f} s "
          f"({bare / journal:.3f}×); Experiment.run on SQLite {in_process:.2f} s ({bare / in_process:.2f}×); "
          f"evolution {args.evolution_trials} trials {evolve:.1f} s")
    if long:
        print(f"{long['trials']} trials: bare {long['bare_optuna_s']:.1f} s ({long['bare_distinct_archs']} distinct archs), "
              f"Experiment.run {long['experiment_run_sqlite_in_process_s']:.1f} s ({long['speed_vs_bare']['sqlite_in_process']:.2f}× trials/s, "
              f"{long['distinct_archs_per_s_vs_bare']['sqlite_in_process']:.2f}× new archs/s), hwnas run {long['hwnas_run_sqlite_s']:.1f} s "
              f"({long['speed_vs_bare']['sqlite']:.2f}×, {long['distinct_archs_per_s_vs_bare']['sqlite']:.2f}× new archs/s)")
    if scale:
        print(f"scale: {scale['trials']} trials in {scale['wall_s']:.1f} s ({scale['trials_per_s']:.0f}/s), peak RSS "
              f"{scale['peak_rss_mb']:.0f} MB, storage {scale['storage_mb']:.0f} MB, dashboard load {scale['dashboard_load_s']:.1f} s, "
              f"reopening it {scale['resume_open_s']:.1f} s in {scale['resume_peak_rss_mb']:.0f} MB")
    if args.json:
        out = Path(__file__).parent / "results" / "search_speed.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
