"""Errors every layer of hwnas raises; the CLI turns them into one line and exit code 2."""

from __future__ import annotations

from collections.abc import Iterable


def shown(value: object, limit: int = 80) -> str:
    """`repr(value)` for an error message, cut to `limit` characters (a 5 MB value is not echoed whole)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"


class HwnasError(Exception):
    """Base class of the errors a user can cause and fix (bad input, unknown names)."""


class InvalidArchError(HwnasError, ValueError):
    """An architecture that is not a point of its space; the message names the bad field."""


class UnknownNameError(HwnasError, KeyError):
    """A name (space, preset, named architecture, ...) that is not registered."""

    def __init__(self, what: str, name: str, allowed: Iterable[str]) -> None:
        self.what, self.name, self.allowed = what, name, sorted(allowed)
        super().__init__(f"unknown {what} {shown(name)}; choose one of: {', '.join(self.allowed)}")

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


class TrainingError(HwnasError, ValueError):
    """Training that cannot start: bad settings, an existing output directory, a task that does not fit."""


class CheckpointError(HwnasError, ValueError):
    """A supernet directory that is missing, corrupt, from a newer format, or of another space/preset."""


class TaskMismatchError(HwnasError, ValueError):
    """A task whose inputs or kind do not fit the space it should train."""


class TaskDataError(HwnasError, ValueError):
    """Task data that cannot be used (missing file, mismatched lengths, empty, bad option); names the file."""


class ExportError(HwnasError, ValueError):
    """An extraction or subnet directory that cannot be used: missing/corrupt files, an existing output
    directory, a trial not in its experiment, an ONNX model that disagrees with torch; names the file or field."""


class StorageError(HwnasError):
    """A storage URL that cannot be opened."""


class SpecError(HwnasError):
    """An experiment spec that cannot run; the message names the key path."""


class QueryError(HwnasError):
    """A bad front query: unknown objective, malformed filter."""


class NnMeterUnavailableError(HwnasError, RuntimeError):
    """nn-Meter (or a package it needs) is not importable here; names the package and the fix."""


class ApiError(HwnasError):
    """A request the API cannot answer as asked (missing, repeated or unknown parameter)."""


class DashboardError(HwnasError):
    """The dashboard cannot start where asked (port in use, host not an address of this machine)."""


class InvalidHardwareError(HwnasError, ValueError):
    """A hardware config that cannot exist or is not a point of its space; the message names the field."""


class UnsupportedOpError(HwnasError, ValueError):
    """An op no cost model prices (never priced as zero); the message names the op and the kinds that are priced."""


class ClusterError(HwnasError):
    """A cluster that cannot be used as asked: a Ray address that does not answer, a resource no node offers,
    distributed training ranks that disagree; names the address or the rank."""
