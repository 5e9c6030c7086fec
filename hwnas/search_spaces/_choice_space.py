"""`ChoiceSpace`: the choice algebra (sample, mutate, crossover, validate, encode, suggest) of one declaration.

Architecture spaces (`SearchSpace`) and hardware spaces (`hwnas.codesign.HardwareSpace`) are both choice
spaces: what differs is what a point is called in messages (`noun`), the error raised for a bad point,
the point type returned and the prefix of its Optuna params. Nothing here knows about networks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hwnas.errors import HwnasError, InvalidArchError, UnknownNameError, shown
from hwnas.search_spaces._arch import Arch, ChoiceValue, Scalar
from hwnas.search_spaces._choices import Choice, Declaration, Depth, PerLayer

if TYPE_CHECKING:
    import optuna

RngLike = random.Random | int | None


def as_rng(rng: RngLike) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def _all_exact(values: tuple[Any, ...], exact: frozenset[tuple[type, Any]]) -> bool:
    """Every value is a declared one of the declared type (the common case, checked in one pass at C speed)."""
    try:
        return exact.issuperset(zip(map(type, values), values))
    except TypeError:  # an unhashable value: the slow path names it
        return False


class _DeclaredCheck:
    """Whether every field of an arch holds declared values of the declared type, one per active layer: the common
    case, checked without building messages (a search validates every arch it prices, and this check was most of
    pricing's time). False sends the arch to the checks that name the first bad field or normalise values given as
    another type (48.0 for 48).

    A per-layer choice of ints or of strs is checked as values (one set operation a field) when the arch holds
    only ints and strs (`Arch.ints_and_strs`); otherwise, and for choices of floats or mixed types, each layer's
    (type, value) pair is checked."""

    def __init__(self, declaration: Sequence[Declaration]) -> None:
        self.names = frozenset(d.name for d in declaration)
        self.scalars = [(d.name, _exact(d.values)) for d in declaration if not isinstance(d, PerLayer)]
        self.layers = [(d.name, int(d.depth) if isinstance(d.depth, int) else d.depth,
                        frozenset(d.values) if {type(v) for v in d.values} in ({int}, {str}) else None,
                        _exact(d.values)) for d in declaration if isinstance(d, PerLayer)]

    def __call__(self, arch: Arch) -> bool:
        choices = arch._choices  # noqa: SLF001  (the dict itself: one lookup a field instead of a method call)
        if choices.keys() != self.names:
            return False
        by_value = arch.ints_and_strs
        try:
            for name, exact in self.scalars:  # depths first: the per-layer lengths are checked against them
                value = choices[name]
                if (type(value), value) not in exact:
                    return False
            for name, depth, values, exact in self.layers:
                value = choices[name]
                if type(value) is not tuple or len(value) != (depth if type(depth) is int else choices[depth]):
                    return False
                if not (values.issuperset(value) if by_value and values is not None
                        else exact.issuperset(zip(map(type, value), value))):
                    return False
        except TypeError:  # an unhashable value: the slow path names it
            return False
        return True


def _exact(values: Sequence[Any]) -> frozenset[tuple[type, Any]]:
    return frozenset((type(v), v) for v in values)


#: How many recently validated archs a space remembers (a few generations of a search).
RECENTLY_VALID = 4096


class ChoiceSpace:
    """Every generic operation on points of one declaration of `Choice`, `Depth` and `PerLayer`s.

    Subclasses set `noun` ("arch", "hardware": messages say "arch field 'x'"), `error` (raised by
    `validate`), `point_type` (an `Arch` subclass) and `param_prefix` (of Optuna params and features).
    Instances are read-only after construction (but for a memo of validated archs, kept by single dict
    operations), so they are safe to share between threads.
    """

    #: Registry name (a space's name, a hardware kind).
    name: str = ""
    noun: ClassVar[str] = "arch"
    error: ClassVar[type[HwnasError]] = InvalidArchError
    point_type: ClassVar[type[Arch]] = Arch
    param_prefix: ClassVar[str] = ""

    def __init__(self, declaration: Sequence[Declaration], named: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Raises `ValueError` for repeated choice names or a per-layer choice of an unknown depth."""
        self.declaration: tuple[Declaration, ...] = tuple(declaration)
        names = [d.name for d in self.declaration]
        if len(set(names)) != len(names):
            raise ValueError(f"space {self.name!r}: repeated choice names in {names}")
        self._depths = {d.name: d for d in self.declaration if isinstance(d, Depth)}
        self._names = frozenset(names)
        for d in self.declaration:
            if isinstance(d, PerLayer) and isinstance(d.depth, str) and d.depth not in self._depths:
                raise ValueError(f"per-layer choice {d.name!r} refers to unknown depth {d.depth!r}")
        #: Per choice, its values with their exact types: the fast path of `validate` (a value of the declared type).
        self._exact = {d.name: _exact(d.values) for d in self.declaration}
        self._check_order = sorted(self.declaration, key=lambda d: isinstance(d, PerLayer))  # depths before their layers
        self._all_declared = _DeclaredCheck(self.declaration)
        #: Archs this space validated lately (canonical JSON -> the arch): a search validates each proposal in
        #: the runner and again in every evaluator, and an arch that passed once passes again.
        self._recently_valid: dict[str, Arch] = {}
        self._named = {key: self.validate(value) for key, value in (named or {}).items()}

    @property
    def label(self) -> str:
        """How messages name this space (`mobiledets/tiny`, `accelerator`)."""
        return self.name

    # -- structure ----------------------------------------------------------------------------
    @property
    def choices(self) -> dict[str, Declaration]:
        return {d.name: d for d in self.declaration}

    def _layer_count(self, decl: PerLayer, values: Mapping[str, ChoiceValue]) -> int:
        return decl.depth if isinstance(decl.depth, int) else int(values[decl.depth])  # type: ignore[arg-type]

    def num_subnets(self) -> int:
        """Distinct points; per-layer choices only count for layers active at each depth."""
        total = 1
        for decl in self.declaration:
            if isinstance(decl, Depth):
                per_layer = [p for p in self.declaration if isinstance(p, PerLayer) and p.depth == decl.name]
                total *= sum(math.prod(len(p.values) ** int(d) for p in per_layer) for d in decl.values)
            elif isinstance(decl, PerLayer) and isinstance(decl.depth, int):
                total *= len(decl.values) ** decl.depth
            elif not isinstance(decl, PerLayer):
                total *= len(decl.values)
        return total

    # -- generic operations ---------------------------------------------------------------------
    def _assemble(self, pick_global: Any, pick_layer: Any) -> Arch:
        values: dict[str, ChoiceValue] = {}
        for decl in self.declaration:
            if not isinstance(decl, PerLayer):
                values[decl.name] = pick_global(decl)
        for decl in self.declaration:
            if isinstance(decl, PerLayer):
                values[decl.name] = tuple(pick_layer(decl, i) for i in range(self._layer_count(decl, values)))
        return self.point_type(values)

    def sample(self, rng: RngLike = None) -> Arch:
        """A uniformly random choice per field (depth first, then each active layer)."""
        rng = as_rng(rng)
        return self._assemble(lambda c: c.sample(rng), lambda p, i: p.choice.sample(rng))

    def min_arch(self) -> Arch:
        return self._assemble(lambda c: c.smallest, lambda p, i: p.choice.smallest)

    def max_arch(self) -> Arch:
        return self._assemble(lambda c: c.largest, lambda p, i: p.choice.largest)

    def mutate(self, arch: Arch, rng: RngLike = None, prob: float = 0.3) -> Arch:
        """Resample each field (and each layer's value) with probability `prob`; new layers are sampled."""
        arch, rng = self.validate(arch), as_rng(rng)

        def pick_layer(p: PerLayer, i: int) -> Scalar:
            old = arch[p.name]
            if i < len(old) and rng.random() >= prob:  # type: ignore[arg-type]
                return old[i]  # type: ignore[index]
            return p.choice.sample(rng)

        return self._assemble(lambda c: c.sample(rng) if rng.random() < prob else arch[c.name], pick_layer)

    def crossover(self, a: Arch, b: Arch, rng: RngLike = None) -> Arch:
        """Each field (and each layer) from either parent; layers only one parent has come from it."""
        a, b, rng = self.validate(a), self.validate(b), as_rng(rng)

        def pick_layer(p: PerLayer, i: int) -> Scalar:
            donors = [parent[p.name][i] for parent in (a, b) if i < len(parent[p.name])]  # type: ignore[arg-type,index]
            return rng.choice(donors)

        return self._assemble(lambda c: rng.choice((a, b))[c.name], pick_layer)

    def validate(self, arch: Arch | Mapping[str, Any]) -> Arch:
        """`arch` as a point of this space; raises `self.error` naming the first bad field."""
        arch = arch if isinstance(arch, self.point_type) else self.point_type(arch)
        known = self._recently_valid.get(key := arch.to_json())
        if known is not None:
            return known
        valid = self._validated(arch)
        if len(self._recently_valid) >= RECENTLY_VALID:
            self._recently_valid.clear()
        self._recently_valid[key] = valid
        return valid

    def _validated(self, arch: Arch) -> Arch:
        if self._all_declared(arch):
            return arch
        where, field = self.label, f"{self.noun} field"
        if arch.keys() != self._names:
            unknown = sorted(arch.keys() - self._names)
            if unknown:
                raise self.error(f"{where}: unknown {field} {unknown[0]!r}; fields are: {', '.join(self.choices)}")
            missing = [name for name in self.choices if name not in arch]
            raise self.error(f"{where}: {field} {missing[0]!r} is missing")
        normalised: dict[str, Any] = {}  # fields given as another type of a declared value (48.0 for 48)
        for decl in self._check_order:
            value = arch[decl.name]
            if isinstance(decl, PerLayer):
                count = self._layer_count(decl, arch)
                if not isinstance(value, tuple):
                    raise self.error(f"{where}: {field} {decl.name!r} must be a list with one value per layer, got {shown(value)}")
                if len(value) != count:
                    depth = f" ({decl.depth} = {count})" if isinstance(decl.depth, str) else ""
                    raise self.error(f"{where}: {field} {decl.name!r} has {len(value)} values but {count} layers are active{depth}")
                if _all_exact(value, self._exact[decl.name]):
                    continue
                layers = tuple(self._declared(decl, v, f"'{decl.name}.{i}'") for i, v in enumerate(value))
                if any(new is not old for new, old in zip(layers, value)):
                    normalised[decl.name] = layers
            else:
                declared = self._declared(decl, value, repr(decl.name))
                if declared is not value:
                    normalised[decl.name] = declared
        # the point holds the declared values, so 48.0 and 48 are one arch with one id
        return self.point_type({**arch, **normalised}) if normalised else arch

    def _declared(self, decl: Declaration, value: Any, name: str) -> Any:
        """`value` if it is one of `decl`'s values with the declared type, the declared value it stands for
        (48 for 48.0), or an error naming the field; booleans and lists never stand for numbers."""
        if isinstance(value, (str, int, float)) and (type(value), value) in self._exact[decl.name]:
            return value
        if not isinstance(value, (bool, tuple, list, dict)):
            for choice in decl.values:
                same_kind = isinstance(value, (int, float)) and isinstance(choice, (int, float)) and not isinstance(choice, bool)
                if same_kind and value == choice:
                    return choice
        raise self.error(f"{self.label}: {self.noun} field {name} = {shown(value)} is not one of {list(decl.values)}")

    def __contains__(self, arch: object) -> bool:
        try:
            self.validate(arch)  # type: ignore[arg-type]
        except self.error:
            return False
        return True

    # -- numeric encoding for predictors --------------------------------------------------------
    def _slots(self) -> list[tuple[Declaration, int | None, Choice]]:
        slots: list[tuple[Declaration, int | None, Choice]] = []
        for decl in self.declaration:
            if isinstance(decl, PerLayer):
                max_layers = decl.depth if isinstance(decl.depth, int) else int(max(self._depths[decl.depth].values))  # type: ignore[type-var]
                slots += [(decl, i, decl.choice) for i in range(max_layers)]
            else:
                slots.append((decl, None, decl))
        return slots

    def feature_names(self) -> list[str]:
        return [self.param_prefix + name for decl, i, c in self._slots()
                for name in c.feature_names(decl.name if i is None else f"{decl.name}.{i}")]

    def encode(self, arch: Arch) -> np.ndarray:
        """Fixed-length float vector (`feature_names()` order); layers beyond the active depth are zeros."""
        arch = self.validate(arch)
        row: list[float] = []
        for decl, i, c in self._slots():
            value = arch[decl.name]
            if i is not None:
                value = value[i] if i < len(value) else None  # type: ignore[arg-type,index]
            row += c.encode(value)  # type: ignore[arg-type]
        return np.asarray(row, dtype=np.float64)

    def encode_many(self, archs: Iterable[Arch]) -> np.ndarray:
        rows = [self.encode(a) for a in archs]
        return np.stack(rows) if rows else np.zeros((0, len(self.feature_names())))

    def summary_names(self) -> list[str]:
        names: list[str] = []
        for decl in self.declaration:
            name = self.param_prefix + decl.name
            if isinstance(decl, PerLayer):
                c = decl.choice
                names += [f"{name}:sum", f"{name}:max", f"{name}:min"] if c.numeric else [f"{name}:count={v}" for v in c.values]
            else:
                names += decl.feature_names(name)
        return names

    def encode_summary(self, arch: Arch) -> np.ndarray:
        """Per-layer choices summed up (numeric: sum, max and min over the active layers; categorical: how
        many layers take each value), global choices as `encode` has them (`summary_names()` order).

        A position-free view of the arch: with tens of evaluated subnets a surrogate learns "how much width
        in total" far sooner than a weight per layer slot."""
        arch = self.validate(arch)
        row: list[float] = []
        for decl in self.declaration:
            value = arch[decl.name]
            if not isinstance(decl, PerLayer):
                row += decl.encode(value)  # type: ignore[arg-type]
            elif decl.choice.numeric:
                layers = [float(v) for v in value] or [0.0]  # type: ignore[union-attr]
                row += [sum(layers), max(layers), min(layers)]
            else:
                row += [float(sum(1 for v in value if v == option)) for option in decl.choice.values]  # type: ignore[union-attr]
        return np.asarray(row, dtype=np.float64)

    # -- Optuna --------------------------------------------------------------------------------
    def suggest(self, trial: optuna.trial.BaseTrial) -> Arch:
        """Ask `trial` for a point; per-layer params (`heads.3`) exist only for active layers.

        Raises `self.error` when the suggested combination is not valid (a hardware space's physical check).
        """
        p = self.param_prefix
        return self.validate(self._assemble(
            lambda c: trial.suggest_categorical(p + c.name, list(c.values)),
            lambda d, i: trial.suggest_categorical(f"{p}{d.name}.{i}", list(d.values)),
        ))

    def to_params(self, arch: Arch) -> dict[str, Scalar]:
        """Flat Optuna params of `arch` (the inverse of `from_params`), e.g. for `study.enqueue_trial`."""
        params: dict[str, Scalar] = {}
        for name, value in self.validate(arch).items():
            if isinstance(value, tuple):
                params.update({f"{self.param_prefix}{name}.{i}": v for i, v in enumerate(value)})
            else:
                params[self.param_prefix + name] = value
        return params

    def from_params(self, params: Mapping[str, Any]) -> Arch:
        """The point of a finished trial's `params` (params of other spaces are ignored)."""
        p = self.param_prefix
        try:
            arch = self._assemble(lambda c: params[p + c.name], lambda d, i: params[f"{p}{d.name}.{i}"])
        except KeyError as exc:
            raise self.error(f"{self.label}: trial params lack {exc.args[0]!r}") from None
        return self.validate(arch)

    # -- named points --------------------------------------------------------------------------
    def named_archs(self) -> dict[str, Arch]:
        return dict(self._named)

    def named_arch(self, name: str) -> Arch:
        if name not in self._named:
            raise UnknownNameError(f"named architecture of {self.label}", name, self._named)
        return self._named[name]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
