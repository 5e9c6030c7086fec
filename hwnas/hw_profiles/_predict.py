"""Prices archs, HAT rows and nn-Meter blocks with a profile — after checking they are in its domain.

Outside the domain (another space, linear attention on a softmax-only profile, a width or block kind
never measured) is an `OutOfDomainError` naming the op or field and the domain, never an extrapolation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.errors import OutOfDomainError
from hwnas.hw_profiles import _hat, _nnmeter
from hwnas.hw_profiles._profile import Profile

ATTN_FIELDS = ("encoder_attn", "decoder_attn")


def _space_entry(profile: Profile, space_name: str, preset: str) -> dict:
    for entry in profile.domain.get("spaces", []):
        if entry.get("space") == space_name and entry.get("preset") in (None, preset):
            return entry
    allowed = ", ".join(f"{e.get('space')}/{e.get('preset')}" for e in profile.domain.get("spaces", [])) or "none (block tables only)"
    raise OutOfDomainError(f"space {space_name}/{preset} is outside profile {profile.device!r}'s domain; it was calibrated on: {allowed}")


def check_ranges(profile: Profile, rows: np.ndarray, names: Sequence[str], shapes: dict, what: str) -> None:
    """Every column of `rows` inside the profile's [min, max] for it (with 1e-9 slack)."""
    for j, name in enumerate(names):
        if name not in shapes:
            continue
        low, high = shapes[name]
        bad = np.nonzero((rows[:, j] < low - 1e-9) | (rows[:, j] > high + 1e-9))[0]
        if bad.size:
            raise OutOfDomainError(f"{what} {bad[0]}: {name} = {rows[bad[0], j]:g} is outside profile {profile.device!r}'s "
                                   f"measured range [{low:g}, {high:g}]")


def hat_rows_ms(profile: Profile, rows: np.ndarray, what: str = "row") -> np.ndarray:
    """Predicted ms of HAT feature rows (n × 10) on a `hat-ops-v1` profile."""
    check_ranges(profile, rows, _hat.HAT_COLUMNS, profile.domain.get("shapes", {}), what)
    return profile.predict_parts(_hat.hat_op_features(rows, profile.domain.get("setup")))


def predict_archs_ms(profile: Profile, space, archs: Sequence) -> np.ndarray:  # noqa: ANN001
    """Latency (ms) of each arch of `space` on `profile`'s device; raises `OutOfDomainError`."""
    features = profile.domain.get("features")
    entry = _space_entry(profile, space.name, space.preset)
    if features == _hat.FEATURE_SET:
        allowed = set(entry.get("attn", ["softmax"]))
        for arch in archs:
            for name in ATTN_FIELDS:
                if allowed.issuperset(arch[name]):
                    continue
                for i, kind in enumerate(arch[name]):
                    if kind not in allowed:
                        raise OutOfDomainError(
                            f"arch {arch.id}: op attention(attn={kind}) in layer {name}.{i} is outside profile "
                            f"{profile.device!r}'s domain: attention kinds {sorted(allowed)} on {space.name}/{space.preset} "
                            "(no measured correction for it)")
        return hat_rows_ms(profile, _hat.hat_rows_from_archs(archs), "arch")
    if features == "torch-ops-v1":
        from hwnas.hw_profiles._measure import ops_feature_rows

        rows = ops_feature_rows(space, archs, profile.domain, profile.model.aux.get("kernels"))  # type: ignore[arg-type]
        return profile.predict_parts({"model": rows})
    raise OutOfDomainError(f"profile {profile.device!r} ({features}) prices blocks, not archs of {space.name}/{space.preset}")


def nnmeter_keys_ms(profile: Profile, keys: Sequence[str]) -> np.ndarray:
    """Predicted ms of nn-Meter block keys: measured value when the table has the key, else the regressor."""
    if profile.domain.get("features") != _nnmeter.FEATURE_SET:
        raise OutOfDomainError(f"profile {profile.device!r} ({profile.domain.get('features')}) does not price nn-Meter blocks")
    kinds, matrix = _nnmeter.block_matrix(list(keys))
    allowed = profile.domain.get("block_kinds", [])
    shapes = profile.domain.get("shapes", {})
    for kind in sorted(set(kinds)):
        mask = np.array(kinds) == kind
        if kind not in allowed:
            first = keys[int(np.argmax(mask))]
            raise OutOfDomainError(f"block {first!r}: kind {kind!r} is outside profile {profile.device!r}'s domain: {', '.join(allowed)}")
        names = list(shapes.get(kind, {}))
        width = _nnmeter.PHYSICAL_WIDTH[kind]
        sub = matrix[mask][:, width: width + len(names)]
        try:
            check_ranges(profile, sub, names, shapes[kind], f"{kind} block")
        except OutOfDomainError as exc:
            index = int(str(exc).split(":")[0].split()[-1])
            raise OutOfDomainError(f"block {str(np.array(keys)[mask][index])!r}:{str(exc).split(':', 1)[1]}") from None
    width = max(matrix.shape[1], 1)
    return profile.model.parts["blocks"].predict(matrix[:, :width], keys=list(keys), kinds=kinds)  # type: ignore[call-arg]
