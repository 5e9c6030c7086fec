"""Fit the shipped profiles (hwnas/hw_profiles/profiles/<device>/) from the public measurements in $HWNAS_DATA,
with the calibration `hwnas profile calibrate` runs, so what ships is what a user would fit.

One op-level profile per device and batch size, fitted on every file that measured it and validated per file on
held-out rows: HAT's SubTransformers (`hat-latency/`: Raspberry Pi, Xeon, TITAN Xp), HELP's OFA MobileNetV3 and
FBNet subnets (`help-latency/`: 13 devices, GPUs at batch 1, 32 and 64). The TITAN Xp's batch-1 files (HAT's WMT'14
and IWSLT'14 runs, HELP's OFA and FBNet columns, all PyTorch) make one profile, `titanxp`. The phones' block tables
(`nnmeter-mobile-lut/`) make `pixel1/4/6`.

The shipped files were fitted before squeeze-excite gates became their own op class (`mul-broadcast`): they hold
those products as `mul`, and price them exactly as fitted (`_torch_features.REFINED_CLASSES`); a refit names the
class `mul-broadcast`.

    python experiments/calibrate_profiles.py [--only NAME ...]     # ~15 minutes for all of them
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from rich.progress import track

from hwnas.hw_profiles import PROFILES_DIR, calibrate_nnmeter_lut, save_profile
from hwnas.hw_profiles._calibrate_hat import calibrate_hat_sources, hat_source
from hwnas.hw_profiles._calibrate_op_level import calibrate_help_columns, help_device, help_source
from hwnas.hw_profiles._help import read_help_csv
from hwnas.hw_profiles._profile import LatencyModel, Profile

DATA = Path(os.environ.get("HWNAS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
HELP_FILES = ("ofa_latency_ms.csv", "fbnet_latency_ms.csv")
#: Profile -> (HAT files, kind, runtime); HELP's columns of the same device at batch 1 join them.
HAT = {"xeon": (["wmt14ende_cpu_xeon_all.csv"], "cpu", "pytorch eager (fairseq, HAT's measurement script)"),
       "raspberrypi": (["wmt14ende_cpu_raspberrypi_all.csv"], "cpu", "pytorch eager (fairseq, HAT's measurement script)"),
       "titanxp": (["wmt14ende_gpu_titanxp_all.csv", "iwslt14deen_gpu_titanxp_all.csv"], "gpu",
                   "pytorch (fairseq: HAT's measurement script; HELP's measurement)")}
NNMETER = {"pixel1": "pixel1_lut_ln_v3.json", "pixel4": "pixel4_lut_ln_v3.json", "pixel6": "pixel6_lut_ln_v3.json"}
Fit = Callable[[], tuple[Profile, LatencyModel]]


def help_columns() -> dict[str, list[tuple[Path, str]]]:
    """Profile name -> the HELP (file, column) pairs measured on that device at that batch size."""
    by_name: dict[str, list[tuple[Path, str]]] = {}
    for name in HELP_FILES:
        path = DATA / "help-latency" / name
        for column in read_help_csv(path).latency_ms:
            by_name.setdefault(help_device(column)[0], []).append((path, column))
    return by_name


def plan() -> dict[str, Fit]:
    """Profile name -> how it is fitted."""
    columns = help_columns()
    jobs: dict[str, Fit] = {}
    for name, pairs in columns.items():
        if name not in HAT:
            jobs[name] = lambda pairs=pairs, name=name: calibrate_help_columns(pairs, name=name)
    for name, (files, kind, runtime) in HAT.items():
        def fit(name: str = name, files: list[str] = files, kind: str = kind,
                runtime: str = runtime) -> tuple[Profile, LatencyModel]:
            extra = [help_source(path, column) for path, column in columns.get(name, [])]
            return calibrate_hat_sources([hat_source(DATA / "hat-latency" / f) for f in files], name, kind, runtime, extra)
        jobs[name] = fit
    for name, file in NNMETER.items():
        jobs[name] = lambda name=name, file=file: calibrate_nnmeter_lut(DATA / "nnmeter-mobile-lut" / file, device=name)
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="profile names to (re)fit")
    args = parser.parse_args()
    jobs = {k: v for k, v in plan().items() if not args.only or k in args.only}
    for name, fit in track(list(jobs.items()), description="calibrating"):
        profile, model = fit()
        save_profile(profile, model, PROFILES_DIR / name)
        m = profile.validation["metrics"]
        print(f"{name}: {profile.n_measurements} measurements; held-out acc10 {m['acc10']:.3f}, τ {m['kendall_tau']:.3f}")


if __name__ == "__main__":
    main()
