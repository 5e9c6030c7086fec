"""What every CLI module shares: the console, and the one place user errors become `hwnas: error: <one line>`
and exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console

from hwnas.errors import HwnasError

#: One console for every command; pipes and CI get full rows.
console = Console(width=None if sys.stdout.isatty() else 120)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HwnasError as exc:
            print(f"hwnas: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper


def fmt_metric(value: float | None, digits: int = 3) -> str:
    """A validation figure for a table or a summary line; "-" where a profile has none."""
    return "-" if value is None else f"{value:.{digits}f}"
