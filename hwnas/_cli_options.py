"""`KEY=VALUE` options on the command line (task options of `train-supernet` and `train`)."""

from __future__ import annotations

import json
from typing import Any

from hwnas.errors import HwnasError


def parse_key_values(pairs: list[str], flag: str = "--task-option", example: str = "num_samples=8000") -> dict[str, Any]:
    """`KEY=VALUE` pairs; values are read as JSON when they parse (numbers, lists), else kept as text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise HwnasError(f"{flag} {pair!r} must look like KEY=VALUE, e.g. {example}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options
