"""`BlockSpec`: the active sizes of one block of a network, the unit every consumer of a space walks.

A space maps an `Arch` onto a list of block specs once (`SearchSpace.blocks`). Building the supernet
(from the largest arch's list), activating a subnet (`module.configure(spec)` for each block), the op
list (`spec.ops()`), phone block tables and export all walk that list, so a space spells its structure
out once. Specs are frozen dataclasses beside the module they describe; fields that only the supernet
needs (the options a slot offers, e.g. its kernel sizes) are part of the spec so `build()` needs nothing else.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hwnas.search_spaces._ops import OpSpec

if TYPE_CHECKING:
    from torch import nn

HW = tuple[int, int]

#: Specs shared before the table starts over: enough for every distinct layer a search meets many times.
SHARED_MAX = 50_000


class _Shared(ABCMeta):
    """Specs are frozen values: equal arguments get the one instance already built. Walking thousands of archs
    builds the same few layers over and over; a shared spec is built once, and pricing, which looks each block up
    (`hw_profiles` caches a block's ops and row per spec), finds it by identity instead of hashing its fields.
    Sharing is safe because specs are immutable: a subclass that is not a frozen dataclass is refused when built."""

    _instances: dict[Any, Any] = {}

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:  # with the arguments' types: 16 == 16.0, but a spec asked for with ints must not get the floats
            key = (cls, args, tuple(kwargs.items()), tuple(map(type, args)), tuple(map(type, kwargs.values())))
            found = _Shared._instances.get(key)
        except TypeError:  # an unhashable argument: a spec of its own
            return super().__call__(*args, **kwargs)
        if found is None:
            params = getattr(cls, "__dataclass_params__", None)
            if params is None or not params.frozen:
                raise TypeError(f"{cls.__name__}: block specs are shared between archs, so one must be a "
                                "@dataclass(frozen=True)")
            if len(_Shared._instances) >= SHARED_MAX:
                _Shared._instances.clear()
            found = _Shared._instances[key] = super().__call__(*args, **kwargs)
        return found


def _construct(spec: Callable[..., Any], *args: Any) -> Any:
    return spec(*args)


class SpecMemo(dict):
    """A space's specs of one kind found by the few arch values that shape them (a layer's width, heads, kind): `memo[key]`
    is `build(*key)` (a spec, or a spec and its output size), built on first use; by default the key is the spec's class
    and its arguments. A walk that pricing repeats for every arch of a search then looks each layer up in one dict
    instead of building it: building a shared spec hashes all its fields and their types (~1.5 µs a layer, most of a
    walk). The key must hold every value `build` reads. Safe to share between threads (two threads may both build a
    missing spec; specs are shared values, so either is the same spec)."""

    def __init__(self, build: Callable[..., Any] = _construct) -> None:
        super().__init__()
        self._build = build

    def __missing__(self, key: tuple[Any, ...]) -> Any:
        if len(self) >= SHARED_MAX:
            self.clear()
        spec = self[key] = self._build(*key)
        return spec


class BlockSpec(metaclass=_Shared):
    """One block at its active sizes (and, for 2-D blocks, its input size `hw`). A frozen dataclass: equal specs
    are one shared instance (`_Shared`)."""

    @abstractmethod
    def ops(self) -> list[OpSpec]:
        """The operators one sample passes through in this block (batch 1)."""


class BuildableSpec(BlockSpec):
    """A block that is one module of the network: `build()` makes the supernet module whose largest
    configuration is this spec, and that module's `configure(spec)` activates any spec of the same slot."""

    @abstractmethod
    def build(self) -> nn.Module:
        """A freshly initialised supernet module for this block's slot."""
