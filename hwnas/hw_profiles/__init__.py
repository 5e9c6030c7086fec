"""Hardware profiles: a device's calibrated latency predictor plus provenance, domain and validation.

Profiles come from public measurements (`calibrate_hat_csv`, `calibrate_nnmeter_lut`) or from measuring
this machine (`measure_profile`); the fitted ones ship under `profiles/<device>/`.
"""

from hwnas.hw_profiles._calibrate_hat import calibrate_hat_csv
from hwnas.hw_profiles._calibrate_nnmeter import calibrate_nnmeter_lut
from hwnas.hw_profiles._hat import HAT_COLUMNS, HatData, hat_op_features, hat_rows_from_archs, read_hat_csv
from hwnas.hw_profiles._nnmeter import Block, LutData, parse_block_key, read_nnmeter_lut
from hwnas.hw_profiles._predict import hat_rows_ms, nnmeter_keys_ms, predict_archs_ms
from hwnas.hw_profiles._profile import (
    DEVICE_KINDS, PROFILE_FORMAT_VERSION, LatencyModel, Profile, load_profile, save_profile,
)
from hwnas.hw_profiles._registry import PROFILES_DIR, get_profile, list_profiles, shipped_profile_names

__all__ = [
    "DEVICE_KINDS", "HAT_COLUMNS", "PROFILES_DIR", "PROFILE_FORMAT_VERSION", "Block", "HatData", "LatencyModel", "LutData",
    "Profile", "calibrate_hat_csv", "calibrate_nnmeter_lut", "get_profile", "hat_op_features", "hat_rows_from_archs",
    "hat_rows_ms", "list_profiles", "load_profile", "nnmeter_keys_ms", "parse_block_key", "predict_archs_ms",
    "read_hat_csv", "read_nnmeter_lut", "save_profile", "shipped_profile_names",
]
