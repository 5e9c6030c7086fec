"""The one place user errors become `hwnas: error: <one line>` and exit code 2 (shared by all CLI modules)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer

from hwnas.errors import HwnasError


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HwnasError as exc:
            print(f"hwnas: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper
