"""One registry of search spaces, so tools and blanket tests can run over every space and preset."""

from __future__ import annotations

import fnmatch
from typing import Any, TypeVar

from hwnas.errors import UnknownNameError
from hwnas.search_spaces._space import SearchSpace

_SPACES: dict[str, type[SearchSpace]] = {}
S = TypeVar("S", bound=type[SearchSpace])


def register_space(name: str):  # noqa: ANN201 - decorator
    """Class decorator: `@register_space("mobiledets")` makes the space reachable by name."""

    def decorate(cls: S) -> S:
        if name in _SPACES and _SPACES[name] is not cls:
            raise ValueError(f"search space {name!r} is already registered by {_SPACES[name].__name__}")
        cls.name = name
        _SPACES[name] = cls
        return cls

    return decorate


def list_spaces(pattern: str = "*") -> list[str]:
    return sorted(name for name in _SPACES if fnmatch.fnmatch(name, pattern))


def space_class(name: str) -> type[SearchSpace]:
    if name not in _SPACES:
        raise UnknownNameError("search space", name, _SPACES)
    return _SPACES[name]


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
