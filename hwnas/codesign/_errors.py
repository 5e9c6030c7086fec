"""Errors of the co-design layer; both are user errors the CLI reports as one line."""

from __future__ import annotations

from hwnas.errors import HwnasError


class InvalidHardwareError(HwnasError, ValueError):
    """A hardware config that cannot exist or is not a point of its space; the message names the field."""


class UnsupportedOpError(HwnasError, ValueError):
    """An op no cost model prices (never priced as zero); the message names the op and the kinds that are priced."""
