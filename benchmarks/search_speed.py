"""Search at predictor speed: `hwnas run` against a bare Optuna loop on the same predicted objectives.

Problem (the search-speed issue's): HAT's WMT'14 space with softmax attention, objectives `params_m`,
`latency_ms@raspberrypi`, `latency_ms@xeon`, NSGA-II with population 50, `--trials` trials. Timed in one run:
- `bare`: Optuna's NSGA-II on in-memory storage calling hwnas's evaluators per trial (no storage, no runner);
- `hwnas run` on the default SQLite storage and on journal storage, end to end (a fresh process, start-up included);
- a HAT-scale evolution (population 125, parents 25, `--evolution-trials`, 3,750 = 30 generations) on SQLite.
Goals: `hwnas run` trials/s ≥ 1.0× bare; the HAT-scale evolution ≤ 10 s wall. Writes benchmarks/results/search_speed.json.

    python benchmarks/search_speed.py --json [--trials 300] [--evolution-trials 3750]
"""

from __future__ import annotations

import argparse
import json
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


def bare_optuna(trials: int) -> float:
    """Seconds for Optuna alone: in-memory NSGA-II, the same space and evaluators, one arch per trial."""
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
    return time.perf_counter() - start


def hwnas_run(folder: Path, name: str, searcher: dict, trials: int, storage: str) -> float:
    """Wall seconds of `hwnas run` in a fresh process (start-up included) to `trials` trials."""
    spec = folder / f"{name}.yaml"
    spec.write_text(yaml.safe_dump({"name": name, "space": SPACE, "objectives": OBJECTIVES, "searcher": searcher,
                                    "budget": {"trials": trials}}))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hwnas", "run", str(spec), "--storage", storage], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--evolution-trials", type=int, default=3750)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    nsga2 = {"kind": "optuna", "sampler": "nsga2", "options": {"population_size": 50}}
    evolution = {"kind": "evolution", "options": {"population_size": 125, "parents": 25}}
    with tempfile.TemporaryDirectory(prefix="hwnas-speed-") as tmp:
        folder = Path(tmp)
        bare = bare_optuna(args.trials)
        sqlite = hwnas_run(folder, "nsga2-sqlite", nsga2, args.trials, f"sqlite:///{folder}/nsga2.db")
        journal = hwnas_run(folder, "nsga2-journal", nsga2, args.trials, f"journal:///{folder}/nsga2.log")
        evolve = hwnas_run(folder, "evolution", evolution, args.evolution_trials, f"sqlite:///{folder}/evolution.db")
    result = {
        "trials": args.trials, "bare_optuna_s": bare, "hwnas_run_sqlite_s": sqlite, "hwnas_run_journal_s": journal,
        "per_trial_ms": {"bare": 1e3 * bare / args.trials, "sqlite": 1e3 * sqlite / args.trials, "journal": 1e3 * journal / args.trials},
        "speed_vs_bare": {"sqlite": bare / sqlite, "journal": bare / journal},
        "evolution": {"trials": args.evolution_trials, "wall_s": evolve},
        "goals": {"hwnas_run_at_least_bare": bare / sqlite >= 1.0, "evolution_within_10_s": evolve <= 10.0},
    }
    print(f"bare Optuna {bare:.2f} s; hwnas run: SQLite {sqlite:.1f} s ({bare / sqlite:.3f}× bare), "
          f"journal {journal:.1f} s ({bare / journal:.3f}×); evolution {args.evolution_trials} trials {evolve:.1f} s")
    if args.json:
        out = Path(__file__).parent / "results" / "search_speed.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
