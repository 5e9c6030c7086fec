"""Start-up time of the `hwnas` command (goal: median ≤ 0.6 s for `--help` and `devices`).

Each command runs as a fresh process, interleaved with the baseline `python -c pass` in the same run,
so machine noise hits them alike; the JSON reports medians and each command's margin over the baseline.
Prints a table and, with --json, writes benchmarks/results/startup.json.

    python benchmarks/startup.py --json [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_S = 0.6
HWNAS = [sys.executable, "-m", "hwnas"]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "hwnas --help": [*HWNAS, "--help"],
    "hwnas devices": [*HWNAS, "devices"],
    "hwnas spaces --json": [*HWNAS, "spaces", "--json"],  # imports torch: for scale, not a goal
}


def wall_s(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for command in COMMANDS.values():  # warm the file cache and the .pyc files
        wall_s(command)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            samples[name].append(wall_s(command))
    baseline = statistics.median(samples["python -c pass"])
    rows = {name: {"median_s": statistics.median(s), "min_s": min(s), "over_baseline_s": statistics.median(s) - baseline}
            for name, s in samples.items()}
    goals = {name: rows[name]["median_s"] <= GOAL_S for name in ("hwnas --help", "hwnas devices")}
    for name, row in rows.items():
        mark = {True: "  (goal met)", False: "  (goal missed)"}.get(goals.get(name), "")
        print(f"{name:24s} median {row['median_s']:.3f} s  min {row['min_s']:.3f} s  "
              f"+{row['over_baseline_s']:.3f} s over python{mark}")
    if args.json:
        out = Path(__file__).parent / "results" / "startup.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"goal_s": GOAL_S, "repeats": args.repeats, "commands": rows, "goals_met": goals,
                                   "all_met": all(goals.values()), "python": platform.python_version(),
                                   "machine": platform.machine()}, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
