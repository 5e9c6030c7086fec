"""The registry of search spaces (`SPACES`), so tools and blanket tests can run over every space and preset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hwnas.errors import UnknownNameError
from hwnas.registry import Registry
from hwnas.search_spaces._space import SearchSpace

SPACES: Registry[type[SearchSpace]] = Registry("search space")
S = TypeVar("S", bound=type[SearchSpace])


def register_space(name: str) -> Callable[[S], S]:
    """Class decorator: `@register_space("mobiledets")` makes the space reachable by name.

    Raises `ValueError` when another class already holds `name`.
    """

    def decorate(cls: S) -> S:
        SPACES.register(name, cls)
        cls.name = name
        return cls

    return decorate


def list_spaces(pattern: str = "*") -> list[str]:
    return SPACES.names(pattern)


def space_class(name: str) -> type[SearchSpace]:
    """The class registered as `name`; raises `UnknownNameError` listing the known spaces."""
    return SPACES.get(name)


def list_presets(name: str) -> list[str]:
    return list(space_class(name).presets)


def get_space(name: str, preset: str | None = None, **options: Any) -> SearchSpace:
    """The space `name` with `preset` (its default when omitted); unknown names raise `UnknownNameError`."""
    cls = space_class(name)
    preset = preset or cls.default_preset
    if preset not in cls.presets:
        raise UnknownNameError(f"preset of space {name!r}", preset, cls.presets)
    return cls(preset, **options)


def all_space_presets() -> list[tuple[str, str]]:
    """Every (space, preset) pair, for blanket tests and `hwnas spaces`."""
    return [(name, preset) for name in list_spaces() for preset in list_presets(name)]
