"""`Registry`: the one way hwnas makes a plug-in reachable by name.

Spaces, tasks, predictors, searchers, metrics, hardware kinds, profile feature sets and calibration
sources are each one `Registry`. The CLI, spec validation (the allowed names in errors), docs and the
blanket contract tests read them, so adding a plug-in is one file plus its registration.

An entry may be registered *lazily* as `"module:attribute"`: the name is known (listed, validated,
shown in `--help`) without importing the module, which keeps `hwnas --help` from importing torch.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

from hwnas.errors import UnknownNameError

T = TypeVar("T")
E = TypeVar("E")


def load_target(target: str) -> object:
    """The object a `"package.module:attribute"` string names (a lazy plug-in or engine)."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class Registry(Generic[T]):
    """Named entries of one plug-in kind; `kind` is the noun used in errors ("search space", "task")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._summaries: dict[str, str] = {}

    # -- registering -----------------------------------------------------------------------------
    @overload
    def register(self, name: str) -> Callable[[E], E]: ...

    @overload
    def register(self, name: str, entry: E, *, summary: str = "") -> E: ...

    def register(self, name: str, entry: object = None, *, summary: str = ""):  # type: ignore[no-untyped-def]
        """`@registry.register("name")` on a class or function, or `registry.register("name", entry)`.

        Registering a second, different entry under a taken name is a programming error (ValueError);
        registering the same entry again (a module imported twice) is a no-op.
        """
        if entry is None:
            return lambda value: self.register(name, value, summary=summary)
        current = self._entries.get(name)
        if current is not None and not isinstance(current, str) and current is not entry:
            raise ValueError(f"{self.kind} {name!r} is already registered ({current!r})")
        self._entries[name] = entry  # type: ignore[assignment]
        if summary:
            self._summaries[name] = summary
        return entry

    def register_lazy(self, name: str, target: str, *, summary: str = "") -> None:
        """Register `name` as `"package.module:attribute"`, imported on first `get`."""
        if ":" not in target:
            raise ValueError(f"lazy {self.kind} {name!r}: target must be 'module:attribute', got {target!r}")
        self._entries.setdefault(name, target)
        if summary:
            self._summaries[name] = summary

    # -- reading -------------------------------------------------------------------------------------
    def get(self, name: str) -> T:
        """The entry `name`; an unknown name raises `UnknownNameError` listing the known ones."""
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self._entries)
        entry = self._entries[name]
        if isinstance(entry, str):
            loaded = load_target(entry)
            entry = self._entries[name]  # the module may have registered the entry itself
            entry = loaded if isinstance(entry, str) else entry
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def check(self, name: str) -> str:
        """`name` if registered (without importing a lazy entry), else `UnknownNameError`."""
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self._entries)
        return name

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(name for name in self._entries if fnmatch.fnmatch(name, pattern))

    def summary(self, name: str) -> str:
        return self._summaries.get(self.check(name), "")

    def items(self) -> Iterator[tuple[str, T]]:
        for name in self.names():
            yield name, self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
