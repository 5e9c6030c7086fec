"""`SearchSpace`: every generic operation on architectures, derived from one declaration.

A paper space subclasses it with its declaration, presets, named architectures and a builder; it
never writes its own sampler, validator or encoder (STYLE rule 4).
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.errors import InvalidArchError, UnknownNameError
from hwnas.search_spaces._arch import Arch, ChoiceValue, Scalar
from hwnas.search_spaces._choices import Choice, Declaration, Depth, PerLayer

if TYPE_CHECKING:
    import optuna
    import torch

    from hwnas.search_spaces._ops import OpSpec
    from hwnas.search_spaces._supernet import Supernet

RngLike = random.Random | int | None


def as_rng(rng: RngLike) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


class SearchSpace(ABC):
    """A weight-sharing design space: its choices, and the supernet whose subnets they describe."""

    #: Registry name, set by `register_space`.
    name: str = ""
    #: Preset name -> the preset's configuration (choices and fixed sizes), declared by each space.
    presets: dict[str, Any] = {}
    default_preset: str = ""

    def __init__(self, preset: str, declaration: Sequence[Declaration], named_archs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.preset = preset
        self.declaration: tuple[Declaration, ...] = tuple(declaration)
        names = [d.name for d in self.declaration]
        if len(set(names)) != len(names):
            raise ValueError(f"space {self.name!r}: repeated choice names in {names}")
        self._depths = {d.name: d for d in self.declaration if isinstance(d, Depth)}
        for d in self.declaration:
            if isinstance(d, PerLayer) and isinstance(d.depth, str) and d.depth not in self._depths:
                raise ValueError(f"per-layer choice {d.name!r} refers to unknown depth {d.depth!r}")
        self._named = {key: self.validate(value) for key, value in (named_archs or {}).items()}

    @classmethod
    def preset_config(cls, preset: str, num_classes: int | None = None, **overrides: Any) -> dict[str, Any]:
        """A copy of `preset`'s configuration with the given options applied (None leaves a default)."""
        config = dict(cls.presets[preset])
        if num_classes is not None:
            if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
                raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
            config["num_classes"] = num_classes
        config.update({key: value for key, value in overrides.items() if value is not None})
        return config

    # -- the supernet side, written once per space -------------------------------------------
    @abstractmethod
    def build_supernet(self) -> Supernet:
        """A freshly initialised supernet whose subnets are exactly this space's archs."""

    def example_input(self, batch: int = 1, input_shape: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
        """Positional inputs of the supernet's forward, for a batch of `batch` samples (seeded)."""
        import torch

        shape = tuple(input_shape or self.default_input_shape)
        return (torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0)),)

    @abstractmethod
    def ops(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[OpSpec]:
        """The operators one sample passes through (batch 1), for predictors and cost models."""

    #: The preset's configuration; spaces fill it in `__init__` (see `preset_config`).
    config: dict[str, Any]

    @property
    def default_input_shape(self) -> tuple[int, ...]:
        """Per-sample input shape used when `input_shape` is not given (e.g. (3, 32, 32), (40,))."""
        return tuple(self.config["input_shape"])

    # -- structure ----------------------------------------------------------------------------
    @property
    def choices(self) -> dict[str, Declaration]:
        return {d.name: d for d in self.declaration}

    def _layer_count(self, decl: PerLayer, values: Mapping[str, ChoiceValue]) -> int:
        return decl.depth if isinstance(decl.depth, int) else int(values[decl.depth])  # type: ignore[arg-type]

    def num_subnets(self) -> int:
        """Distinct subnets; per-layer choices only count for layers active at each depth."""
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
        return Arch(values)

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
        """Return `arch` as an `Arch` of this space; raise `InvalidArchError` naming the first bad field."""
        arch = arch if isinstance(arch, Arch) else Arch(arch)
        where = f"{self.name}/{self.preset}"
        unknown = sorted(set(arch) - set(self.choices))
        if unknown:
            raise InvalidArchError(f"{where}: unknown arch field {unknown[0]!r}; fields are: {', '.join(self.choices)}")
        missing = [name for name in self.choices if name not in arch]
        if missing:
            raise InvalidArchError(f"{where}: arch field {missing[0]!r} is missing")
        for decl in self.declaration:
            if isinstance(decl, PerLayer):
                continue
            if arch[decl.name] not in decl.values or isinstance(arch[decl.name], (tuple, bool)):
                raise InvalidArchError(f"{where}: arch field {decl.name!r} = {arch[decl.name]!r} is not one of {list(decl.values)}")
        for decl in self.declaration:
            if not isinstance(decl, PerLayer):
                continue
            value, count = arch[decl.name], self._layer_count(decl, arch)
            if not isinstance(value, tuple):
                raise InvalidArchError(f"{where}: arch field {decl.name!r} must be a list with one value per layer, got {value!r}")
            if len(value) != count:
                depth = f" ({decl.depth} = {count})" if isinstance(decl.depth, str) else ""
                raise InvalidArchError(f"{where}: arch field {decl.name!r} has {len(value)} values but {count} layers are active{depth}")
            for i, v in enumerate(value):
                if v not in decl.values or isinstance(v, bool):
                    raise InvalidArchError(f"{where}: arch field '{decl.name}.{i}' = {v!r} is not one of {list(decl.values)}")
        return arch

    def __contains__(self, arch: object) -> bool:
        try:
            self.validate(arch)  # type: ignore[arg-type]
        except InvalidArchError:
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
        return [name for decl, i, c in self._slots() for name in c.feature_names(decl.name if i is None else f"{decl.name}.{i}")]

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

    # -- Optuna --------------------------------------------------------------------------------
    def suggest(self, trial: optuna.trial.BaseTrial) -> Arch:
        """Ask `trial` for an arch; per-layer params (`heads.3`) exist only for active layers."""
        return self._assemble(
            lambda c: trial.suggest_categorical(c.name, list(c.values)),
            lambda p, i: trial.suggest_categorical(f"{p.name}.{i}", list(p.values)),
        )

    def to_params(self, arch: Arch) -> dict[str, Scalar]:
        """Flat Optuna params of `arch` (the inverse of `from_params`), e.g. for `study.enqueue_trial`."""
        params: dict[str, Scalar] = {}
        for name, value in self.validate(arch).items():
            if isinstance(value, tuple):
                params.update({f"{name}.{i}": v for i, v in enumerate(value)})
            else:
                params[name] = value
        return params

    def from_params(self, params: Mapping[str, Any]) -> Arch:
        """The arch of a finished trial's `params` (extra, non-arch params are ignored)."""
        try:
            arch = self._assemble(lambda c: params[c.name], lambda p, i: params[f"{p.name}.{i}"])
        except KeyError as exc:
            raise InvalidArchError(f"{self.name}/{self.preset}: trial params lack {exc.args[0]!r}") from None
        return self.validate(arch)

    # -- named points --------------------------------------------------------------------------
    def named_archs(self) -> dict[str, Arch]:
        return dict(self._named)

    def named_arch(self, name: str) -> Arch:
        if name not in self._named:
            raise UnknownNameError(f"named architecture of {self.name}/{self.preset}", name, self._named)
        return self._named[name]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, preset={self.preset!r})"
