"""Errors every layer of hwnas raises; the CLI turns them into one line and exit code 2."""

from __future__ import annotations

from collections.abc import Iterable


class HwnasError(Exception):
    """Base class of the errors a user can cause and fix (bad input, unknown names)."""


class InvalidArchError(HwnasError, ValueError):
    """An architecture that is not a point of its space; the message names the bad field."""


class UnknownNameError(HwnasError, KeyError):
    """A name (space, preset, named architecture, ...) that is not registered."""

    def __init__(self, what: str, name: str, allowed: Iterable[str]) -> None:
        self.what, self.name, self.allowed = what, name, sorted(allowed)
        super().__init__(f"unknown {what} {name!r}; choose one of: {', '.join(self.allowed)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
