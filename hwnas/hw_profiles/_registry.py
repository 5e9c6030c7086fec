"""Shipped profiles (`hwnas/hw_profiles/profiles/<name>/`) and lookup by name or directory."""

from __future__ import annotations

from pathlib import Path

from hwnas.errors import UnknownNameError
from hwnas.hw_profiles._profile import PROFILE_FILE, Profile, load_profile

#: Found beside this module, so it works from an installed package (package data: profiles/*/*).
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
#: Shipped names folded into another profile of the same device, runtime and batch.
MERGED = {"titanxp-b1": "titanxp", "titanxp-iwslt14": "titanxp"}
MERGED_WHY = "one TITAN Xp at batch 1, fitted on HAT's WMT'14 and IWSLT'14 runs and HELP's OFA and FBNet columns together"


def shipped_profile_names() -> list[str]:
    if not PROFILES_DIR.is_dir():
        return []
    return sorted(p.name for p in PROFILES_DIR.iterdir() if (p / PROFILE_FILE).is_file())


def list_profiles() -> list[Profile]:
    """Every shipped profile, loaded (a corrupt one raises `ProfileError` naming its file)."""
    return [load_profile(PROFILES_DIR / name) for name in shipped_profile_names()]


def get_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name (`xeon`), or a profile directory; else `UnknownNameError` listing the names."""
    path = Path(name_or_path)
    if (path / PROFILE_FILE).is_file() or (path.is_dir() and str(name_or_path) not in shipped_profile_names()):
        return load_profile(path)
    name = str(name_or_path)
    if name in shipped_profile_names():
        return load_profile(PROFILES_DIR / name)
    if name in MERGED:
        error = UnknownNameError("device profile (or profile directory)", name, shipped_profile_names())
        error.args = (f"device profile {name!r} is now part of {MERGED[name]!r}: {MERGED_WHY}; use device {MERGED[name]}",)
        raise error
    raise UnknownNameError("device profile (or profile directory)", name, shipped_profile_names())
