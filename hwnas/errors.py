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


class OutOfDomainError(HwnasError, ValueError):
    """A prediction asked outside what a profile was calibrated on; names the op and the domain."""


class ProfileError(HwnasError, ValueError):
    """A hardware profile that is missing, corrupt, incomplete or from a newer format; names file and field."""


class DataFileError(HwnasError, ValueError):
    """A measurement file (CSV/JSON) that is missing, malformed, empty or holds NaN; names file, row and field."""


class MeasurementError(HwnasError, RuntimeError):
    """A latency measurement that cannot run here (device busy, unsupported runtime, no GPU)."""
