"""Prices archs and nn-Meter blocks with a profile — after checking they are in its domain.

Outside the domain (another space, linear attention on a softmax-only profile, a width or block kind
never measured) is an `OutOfDomainError` naming the op or field and the domain, never an extrapolation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwnas.errors import OutOfDomainError
from hwnas.hw_profiles import _few_shot, _nnmeter, _op_level, _torch_features
from hwnas.hw_profiles._blocks import BlockPart, nnmeter_block_parts
from hwnas.hw_profiles._profile import Profile
from hwnas.predictors import OpCostLinear
from hwnas.registry import Registry


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


def _torch_archs_ms(profile: Profile, space, archs: Sequence) -> np.ndarray:  # noqa: ANN001
    _space_entry(profile, space.name, space.preset)
    rows = _torch_features.ops_feature_rows(space, archs, profile.domain, profile.model.aux.get("kernels"))  # type: ignore[arg-type]
    return profile.predict_parts({"model": rows})


_OP_DOMAINS: dict[int, tuple[object, _op_level.OpLevelDomain]] = {}


def has_op_model(profile: Profile) -> bool:
    """Whether the profile prices archs by op classes: an op-level profile, or a block table with its op model."""
    return profile.domain.get("features") == _op_level.FEATURE_SET or "op_classes" in profile.domain


def op_model(profile: Profile) -> Any:
    """The unit-cost model over the profile's op classes."""
    model = profile.model
    return model.parts["model"] if profile.domain.get("features") == _op_level.FEATURE_SET else model.aux["ops"]


def op_level_domain(profile: Profile) -> _op_level.OpLevelDomain:
    """The profile's op classes, built once per loaded model (its resolved ops and blocks are cached in it)."""
    model = profile.model
    cached = _OP_DOMAINS.get(id(model))
    if cached is None or cached[0] is not model:
        cached = _OP_DOMAINS[id(model)] = (model, _op_level.OpLevelDomain.from_dict(profile.domain, profile.device))
    return cached[1]


def _op_level_rows(profile: Profile, space, archs: Sequence) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Each arch's op-level row, and the part of it from ops priced by composition or extrapolation."""
    domain = op_level_domain(profile)
    block_lists = [space.latency_blocks(arch) for arch in archs]
    try:
        return domain.blocks_rows(block_lists)
    except OutOfDomainError:
        for arch, blocks in zip(archs, block_lists):  # name the first arch out of the domain
            try:
                domain.blocks_row(blocks)
            except OutOfDomainError as exc:
                raise OutOfDomainError(f"arch {space.validate(arch).id} of {space.name}/{space.preset}: {exc}") from None
        raise


def priced_archs(profile: Profile, space, archs: Sequence) -> tuple[np.ndarray, np.ndarray | None]:  # noqa: ANN001
    """Each arch's latency (as `predict_archs_ms`) and, for profiles with op classes, the share of its milliseconds
    priced by composition or extrapolation (None for other profiles), in one pass over the archs."""
    if not has_op_model(profile):
        return predict_archs_ms(profile, space, archs), None
    if profile.domain.get("features") == _nnmeter.FEATURE_SET:  # by block tier, or by op where blocks do not map
        try:
            explained = [explain_arch(profile, space, arch) for arch in archs]
        except OutOfDomainError:
            predict_archs_ms(profile, space, archs)  # raises with the block and the op reasons
            raise
        return np.array([e.ms for e in explained]), np.array([1.0 - e.share("measured") for e in explained])
    rows, rest = _op_level_rows(profile, space, archs)
    model = op_model(profile)
    base = model.predict(rows)
    return _corrected(profile, space, rows, rest, base), np.clip(model.predict(rest) / np.maximum(base, 1e-12), 0.0, 1.0)


def _corrected(profile: Profile, space, rows: np.ndarray, unmeasured: np.ndarray, ms: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """`ms` times the calibrated space's measured correction, for archs of that space whose every op is measured:
    the correction learned the measured archs' pattern (a cosFormer layer in HAT's space, say, is no part of it)."""
    correction = profile.model.aux.get(f"correction:{space.name}/{space.preset}")
    if correction is None:
        return ms
    inside = ~np.any(unmeasured > 0, axis=1)
    return np.where(inside, ms * np.exp(correction.predict_raw(rows)), ms)  # type: ignore[attr-defined]


def _op_level_archs_ms(profile: Profile, space, archs: Sequence) -> np.ndarray:  # noqa: ANN001
    """Unit costs over the archs' op rows; archs of a calibrated space also get that space's measured correction."""
    rows, unmeasured = _op_level_rows(profile, space, archs)
    return _corrected(profile, space, rows, unmeasured, op_model(profile).predict(rows))


@dataclass(frozen=True)
class Explanation:
    """Where an op-level prediction's milliseconds come from: per op class its ms and provenance."""

    ms: float
    overhead_ms: float
    #: op class -> (ms, the least measured provenance of its ops: measured | composed | extrapolated)
    classes: dict[str, tuple[float, str]]
    #: The calibrated space's own measured correction (ms it adds, or removes, over the unit costs).
    correction_ms: float = 0.0
    #: op class -> provenance -> ms of its ops priced that way (a class's ops can be priced differently: most
    #: inside the measured range, the largest beyond it); None where each class has one provenance.
    split: dict[str, dict[str, float]] | None = None

    def _by_provenance(self, name: str) -> dict[str, float]:
        ms, where = self.classes[name]
        return self.split[name] if self.split is not None else {where: ms}

    def share(self, provenance: str) -> float:
        """The share of the predicted ms from ops priced as `provenance` (overhead and correction: measured)."""
        part = sum(self._by_provenance(name).get(provenance, 0.0) for name in self.classes)
        gross = self.ms - min(self.correction_ms, 0.0)
        if provenance == "measured":
            part += self.overhead_ms + max(self.correction_ms, 0.0)
        return part / gross if gross > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"ms": self.ms, "overhead_ms": self.overhead_ms, "correction_ms": self.correction_ms,
                "share": {p: self.share(p) for p in _op_level.PROVENANCE},
                "classes": [{"op_class": name, "ms": ms, "provenance": where, "ms_by_provenance": self._by_provenance(name)}
                            for name, (ms, where) in sorted(self.classes.items(), key=lambda item: -item[1][0])]}


def explain_arch(profile: Profile, space, arch) -> Explanation:  # noqa: ANN001
    """The prediction of `arch` on an op-level profile, split by op class (they sum to the predicted ms)."""
    if not has_op_model(profile):
        raise OutOfDomainError(f"profile {profile.device!r} ({profile.domain.get('features')}) is not an op-level profile; "
                               f"--explain needs one ({_op_level.FEATURE_SET})")
    if profile.domain.get("features") == _nnmeter.FEATURE_SET:
        try:
            return _block_explanation(phone_block_report(profile, space, arch))
        except OutOfDomainError:
            pass  # priced by the table's op model: explained op by op below
    domain = op_level_domain(profile)
    overhead, units = _op_level.unit_costs(op_model(profile), domain.columns)
    split: dict[str, dict[str, float]] = {}
    for block in space.latency_blocks(arch):
        _price_ops(domain, units, block.ops(), split, f"arch {space.validate(arch).id} of {space.name}/{space.preset}")
    unit_total = overhead + sum(sum(by.values()) for by in split.values())
    predicted = float(_op_level_archs_ms(profile, space, [arch])[0])
    return Explanation(predicted, overhead, _class_totals(split), predicted - unit_total, split)


def _class_totals(split: dict[str, dict[str, float]]) -> dict[str, tuple[float, str]]:
    """Per class: its ms and the least measured provenance among its ops."""
    return {name: (sum(by.values()), max(by, key=_op_level.PROVENANCE.index)) for name, by in split.items()}


def _price_ops(domain: _op_level.OpLevelDomain, units: dict[str, tuple[float, float, float]], ops: Sequence[Any],
               split: dict[str, dict[str, float]], what: str) -> None:
    """Add each op's unit-cost ms (after the runtime's fusion) to `split[its class][its provenance]`; an op outside
    the domain raises `OutOfDomainError` naming `what`."""
    for op in _op_level.fused(ops, domain.fusion):
        try:
            priced = domain.resolve(op)
        except OutOfDomainError as exc:
            raise OutOfDomainError(f"{what}: {exc}") from None
        ms = sum(units[name][0] * count + units[name][1] * macs + units[name][2] * out for name, count, macs, out in priced.parts)
        by = split.setdefault(priced.op_class, {})
        by[priced.provenance] = by.get(priced.provenance, 0.0) + ms


def explain_ops(profile: Profile, ops: Sequence[Any], what: str = "model") -> Explanation:
    """The latency of a model given as its ops (e.g. `onnx_ops`) on an op-level profile, split by op class:
    the per-inference overhead plus each class's unit costs (no space correction applies)."""
    if not has_op_model(profile):
        raise OutOfDomainError(f"profile {profile.device!r} ({profile.domain.get('features')}) prices the subnets of its "
                               f"spaces, not arbitrary ops; use an op-level profile ({_op_level.FEATURE_SET}), e.g. one "
                               "measured with `hwnas profile measure --kernels`")
    domain = op_level_domain(profile)
    overhead, units = _op_level.unit_costs(op_model(profile), domain.columns)
    split: dict[str, dict[str, float]] = {}
    _price_ops(domain, units, ops, split, what)
    total = overhead + sum(sum(by.values()) for by in split.values())
    return Explanation(total, overhead, _class_totals(split), split=split)


def _tier_provenance(priced: PricedPart) -> str:
    """A phone table's tiers as provenance: its keys and in-range regressions are measured; unit costs price a
    block's remainder (composed) or a key outside the measured ranges (extrapolated)."""
    if priced.tier != "unit-cost":
        return "measured"
    return "composed" if priced.part.key is None else "extrapolated"


def _block_explanation(parts: Sequence[PricedPart]) -> Explanation:
    """A phone table's prediction by block kind and tier (`block:conv/lut`, ...), each with its provenance."""
    classes: dict[str, tuple[float, str]] = {}
    for priced in parts:
        where = _tier_provenance(priced)
        name = f"block:{priced.part.kind}/{priced.tier}" + ("-remainder" if where == "composed" else "")
        ms, _ = classes.get(name, (0.0, where))
        classes[name] = (ms + priced.ms, where)
    return Explanation(sum(ms for ms, _ in classes.values()), 0.0, classes)


ArchPricer = Callable[[Profile, Any, Sequence], np.ndarray]
#: A profile's feature set (`domain.features`) -> how it prices archs of a space. A new profile kind is
#: one entry here plus its calibration source (`_sources`).
FEATURE_SETS: Registry[ArchPricer] = Registry("profile feature set")


def predict_archs_ms(profile: Profile, space, archs: Sequence) -> np.ndarray:  # noqa: ANN001
    """Latency (ms) of each arch of `space` on `profile`'s device; raises `OutOfDomainError`."""
    features = str(profile.domain.get("features"))
    if features not in FEATURE_SETS:
        raise OutOfDomainError(f"profile {profile.device!r} ({features}) prices blocks, not archs of {space.name}/{space.preset}")
    return FEATURE_SETS.get(features)(profile, space, archs)


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


TIERS = ("lut", "regressor", "unit-cost")
#: Kinds whose unit costs are fitted jointly: nn-Meter's `conv` (narrow, high resolution) and `transds`
#: (wide, low resolution) are both MBConvs with one physical layout, so together they span the widths
#: and resolutions of a whole MBConv network, which neither table does alone.
JOINT_KINDS = {"conv": ("conv", "transds"), "transds": ("conv", "transds")}
#: How far beyond the largest measured block (per physical count) the unit costs may price. Fitted on the
#: blocks at most 1/3 of the largest and tested on the rest (`benchmarks/phone_blocks.py`), they kept a
#: MAPE of 3–9% on all three phones, so 3× is measured, not assumed; beyond it is out of domain.
EXTRAPOLATION = 3.0
_UNIT_COSTS: dict[int, tuple[object, dict[str, tuple[object, np.ndarray]]]] = {}


@dataclass(frozen=True)
class PricedPart:
    """A block part with its price: `ms` (weight included) and `tier`, how it was priced — `lut` (the measured
    value of its key), `regressor` (key fields inside the measured ranges) or `unit-cost` (non-negative
    per-MAC/per-element costs fitted on the table's blocks of that kind — MBConvs on `conv` and `transds`
    together: remainders, and keys whose fields leave the measured ranges while every physical count
    stays within `EXTRAPOLATION` × the largest the table measured)."""

    part: BlockPart
    ms: float
    tier: str


def unit_cost_models(profile: Profile) -> dict[str, tuple[object, np.ndarray]]:
    """Per block kind: (unit-cost model, largest physical counts measured), fitted on the profile's table
    (its measured keys and values) on first use and cached per model."""
    table = profile.model.parts["blocks"]
    cached = _UNIT_COSTS.get(id(table))
    if cached is None or cached[0] is not table:
        keys = list(table.table_)  # type: ignore[attr-defined]
        values = np.array([table.table_[k] for k in keys])  # type: ignore[attr-defined]
        kinds, matrix = _nnmeter.block_matrix(keys)
        kinds_arr, models = np.array(kinds), {}
        for kind in set(kinds):
            mask = np.isin(kinds_arr, JOINT_KINDS.get(kind, (kind,)))
            physical = matrix[mask, : _nnmeter.PHYSICAL_WIDTH[kind]]
            models[kind] = (OpCostLinear().fit(physical, values[mask]), physical.max(axis=0))
        cached = _UNIT_COSTS[id(table)] = (table, models)
    return cached[1]


def _unit_cost(profile: Profile, kind: str, row: np.ndarray, where: str, why: str) -> float:
    model, maxima = unit_cost_models(profile)[kind]
    over = np.nonzero(row > maxima * EXTRAPOLATION * (1 + 1e-9))[0]
    if over.size:
        j = int(over[0])
        kinds = " and ".join(JOINT_KINDS.get(kind, (kind,)))
        raise OutOfDomainError(f"{where}: {why}{_nnmeter.PHYSICAL_NAMES[kind][j]} = {row[j]:,.0f} exceeds {EXTRAPOLATION:g}× the "
                               f"largest {kinds} block profile {profile.device!r} measured ({maxima[j]:,.0f}), as far as its unit "
                               "costs are validated")
    return float(model.predict(row[None, :])[0])  # type: ignore[attr-defined]


def price_block_parts(profile: Profile, parts: Sequence[BlockPart]) -> list[PricedPart]:
    """Price nn-Meter block parts on a `nnmeter-block-v1` profile (see `PricedPart` for the tiers);
    raises `OutOfDomainError` naming the block, the key and the range it leaves."""
    if profile.domain.get("features") != _nnmeter.FEATURE_SET:
        raise OutOfDomainError(f"profile {profile.device!r} ({profile.domain.get('features')}) does not price nn-Meter blocks")
    allowed, shapes = profile.domain.get("block_kinds", []), profile.domain.get("shapes", {})
    table = profile.model.parts["blocks"].table_  # type: ignore[attr-defined]
    priced: dict[tuple, tuple[float, str]] = {}
    regress: dict[str, BlockPart] = {}
    for part in parts:
        ident = (part.key, part.kind, part.physical)
        if ident in priced or part.key in regress:
            continue
        if part.kind not in allowed:
            raise OutOfDomainError(f"block {part.block}: kind {part.kind!r} is outside profile {profile.device!r}'s domain: "
                                   f"{', '.join(allowed)}")
        if part.key is None:
            priced[ident] = (_unit_cost(profile, part.kind, np.asarray(part.physical, float), f"block {part.block}", ""), "unit-cost")
        elif part.key in table:
            priced[ident] = (float(table[part.key]), "lut")
        else:
            physical, raw = _nnmeter.block_features(_nnmeter.parse_block_key(part.key))
            names = list(shapes.get(part.kind, {}))
            if part.kind == "firstconv":  # the input size sets the scale of every block: never extrapolated
                low, high = shapes["firstconv"]["hw"]
                if not low <= raw[0] <= high:
                    raise OutOfDomainError(f"block {part.block}: key {part.key}: input size {raw[0]:g}×{raw[0]:g} is outside "
                                           f"the input sizes profile {profile.device!r} measured ({low}–{high} px)")
            try:
                check_ranges(profile, np.asarray([raw[: len(names)]]), names, shapes[part.kind], "key")
                regress[part.key] = part
            except OutOfDomainError as exc:
                why = f"key {part.key}: {str(exc).split(': ', 1)[1]}, and "
                priced[ident] = (_unit_cost(profile, part.kind, np.asarray(physical), f"block {part.block}", why), "unit-cost")
    if regress:
        keys = list(regress)
        for key, ms in zip(keys, nnmeter_keys_ms(profile, keys)):
            priced[(key, regress[key].kind, None)] = (float(ms), "regressor")
    result = []
    for part in parts:
        ms, tier = priced[(part.key, part.kind, part.physical)]
        result.append(PricedPart(part, ms * part.weight, tier))
    return result


def phone_block_report(profile: Profile, space, arch, input_shape: Sequence[int] | None = None) -> list[PricedPart]:  # noqa: ANN001
    """Every nn-Meter part of `arch` with its price and tier; their `ms` sum to the arch's phone latency."""
    try:
        return price_block_parts(profile, nnmeter_block_parts(space, arch, input_shape))
    except OutOfDomainError as exc:
        raise OutOfDomainError(f"arch {space.validate(arch).id} of {space.name}/{space.preset} is outside profile "
                               f"{profile.device!r}'s domain: {exc}") from None


def phone_archs_ms(profile: Profile, space, archs: Sequence, input_shape: Sequence[int] | None = None) -> np.ndarray:  # noqa: ANN001
    """Latency (ms) of each arch on a phone profile: the sum over its nn-Meter block parts; an arch whose blocks
    the table cannot price (another space's blocks, a block kind it never measured) by the table's op-level model."""
    result = []
    for arch in archs:
        try:
            result.append(sum(p.ms for p in phone_block_report(profile, space, arch, input_shape)))
        except OutOfDomainError as exc:
            if not has_op_model(profile) or input_shape is not None:
                raise
            try:
                result.append(float(_op_level_archs_ms(profile, space, [arch])[0]))
            except OutOfDomainError as fallback:
                raise OutOfDomainError(f"{exc}; and by its ops: {str(fallback).split(': ', 1)[-1]}") from None
    return np.array(result)


FEATURE_SETS.register(_nnmeter.FEATURE_SET, phone_archs_ms, summary="nn-Meter TFLite block tables (phones)")
FEATURE_SETS.register(_op_level.FEATURE_SET, _op_level_archs_ms,
                      summary="op classes' unit costs: prices the ops of any space (measured, composed or extrapolated)")
FEATURE_SETS.register(_few_shot.FEATURE_SET, _few_shot.few_shot_archs_ms,
                      summary="few-shot: a non-negative mix of base profiles' predictions, fitted on a few measured subnets")
for _name in _torch_features.READABLE:
    FEATURE_SETS.register(_name, _torch_archs_ms, summary="op classes of torch-measured subnets (this machine, a GPU)")
