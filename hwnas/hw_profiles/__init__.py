"""Hardware profiles: a device's calibrated latency predictor plus provenance, domain and validation.

Profiles come from public measurements (`calibrate_hat_csv`, `calibrate_nnmeter_lut`, `calibrate_help_columns`),
a user's own CSV (`calibrate_arch_csv`) or from measuring this machine (`measure_profile`); the fitted ones ship
under `profiles/<device>/`. Op-level profiles (`op-level-v1`) price any space's ops; `explain_arch` says
which of an arch's milliseconds are measured, composed or extrapolated.

Names load on first use (PEP 562): listing profiles (`hwnas devices`) reads YAML and must not import
torch, which pricing a space's subnets needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "calibrate_hat_csv": "_calibrate_hat", "calibrate_nnmeter_lut": "_calibrate_nnmeter",
    "calibrate_arch_csv": "_calibrate_op_level", "calibrate_help_columns": "_calibrate_op_level", "read_help_csv": "_help",
    "explain_arch": "_predict", "priced_archs": "_predict",
    "HAT_COLUMNS": "_hat", "HatData": "_hat", "hat_archs": "_hat", "read_hat_csv": "_hat", "hat_source": "_calibrate_hat",
    "Block": "_nnmeter", "LutData": "_nnmeter", "parse_block_key": "_nnmeter", "read_nnmeter_lut": "_nnmeter",
    "nnmeter_keys_ms": "_predict", "predict_archs_ms": "_predict",
    "DEVICE_KINDS": "_profile", "PROFILE_FORMAT_VERSION": "_profile", "LatencyModel": "_profile", "Profile": "_profile",
    "load_profile": "_profile", "save_profile": "_profile",
    "PROFILES_DIR": "_registry", "get_profile": "_registry", "list_profiles": "_registry", "shipped_profile_names": "_registry",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
