"""Rebuild the shipped profiles (hwnas/hw_profiles/profiles/<device>/) from $HWNAS_DATA with the CLI's
own calibration, so what ships is what `hwnas profile calibrate` produces.

    python benchmarks/predictors_build_profiles.py
"""

from __future__ import annotations

import os
from pathlib import Path

from hwnas.hw_profiles import PROFILES_DIR, calibrate_hat_csv, calibrate_nnmeter_lut, save_profile

HAT = {"xeon": "wmt14ende_cpu_xeon_all.csv", "raspberrypi": "wmt14ende_cpu_raspberrypi_all.csv",
       "titanxp": "wmt14ende_gpu_titanxp_all.csv", "titanxp-iwslt14": "iwslt14deen_gpu_titanxp_all.csv"}
NNMETER = {"pixel1": "pixel1_lut_ln_v3.json", "pixel4": "pixel4_lut_ln_v3.json", "pixel6": "pixel6_lut_ln_v3.json"}


def main() -> None:
    data = Path(os.environ.get("HWNAS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    for device, name in HAT.items():
        profile, model = calibrate_hat_csv(data / "hat-latency" / name, device=device)
        print(device, profile.metrics["acc10"], profile.metrics["kendall_tau"], save_profile(profile, model, PROFILES_DIR / device))
    for device, name in NNMETER.items():
        profile, model = calibrate_nnmeter_lut(data / "nnmeter-mobile-lut" / name, device=device)
        print(device, profile.metrics["acc10"], save_profile(profile, model, PROFILES_DIR / device))


if __name__ == "__main__":
    main()
