"""Fit the shipped op-level profiles of HELP's devices (`$HWNAS_DATA/help-latency/`) into hwnas/hw_profiles/profiles/.

Each device gets one profile per batch size, fitted on every HELP file that measured it (the OFA MobileNetV3
file for the 2080 Ti, TITAN Xp and V100; the FBNet file for all of its 13 devices), validated per file on
held-out rows. TITAN Xp at batch 1 is `titanxp-b1`: `titanxp` is the HAT-calibrated transformer profile.

    python experiments/calibrate_help_profiles.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.progress import track

from hwnas.hw_profiles import PROFILES_DIR, save_profile
from hwnas.hw_profiles._calibrate_op_level import calibrate_help_columns, help_device
from hwnas.hw_profiles._help import read_help_csv

DATA = Path(os.environ.get("HWNAS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "help-latency"
FILES = ("ofa_latency_ms.csv", "fbnet_latency_ms.csv")
RENAMED = {"titanxp": "titanxp-b1"}


def plan() -> dict[str, list[tuple[Path, str]]]:
    """Profile name -> the (file, column) pairs measured on that device at that batch size."""
    by_name: dict[str, list[tuple[Path, str]]] = {}
    for name in FILES:
        path = DATA / name
        for column in read_help_csv(path).latency_ms:
            profile = help_device(column)[0]
            by_name.setdefault(RENAMED.get(profile, profile), []).append((path, column))
    return by_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="profile names to (re)fit")
    args = parser.parse_args()
    jobs = {k: v for k, v in plan().items() if not args.only or k in args.only}
    for name, columns in track(list(jobs.items()), description="calibrating"):
        profile, model = calibrate_help_columns(columns, name=name)
        save_profile(profile, model, PROFILES_DIR / name)
        m = profile.validation["metrics"]
        print(f"{name}: {profile.n_measurements} subnets from {len(columns)} file(s); held-out acc10 {m['acc10']:.3f}, "
              f"τ {m['kendall_tau']:.3f}")


if __name__ == "__main__":
    main()
