"""`hwnas devices`: the shipped hardware profiles. It reads YAML only, so it starts without torch."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from hwnas._cli_common import fmt_metric, user_errors
from hwnas.hw_profiles._registry import list_profiles


def register(app: typer.Typer, console: Console) -> None:
    """Add `devices` to the `hwnas` app."""

    @app.command()
    @user_errors
    def devices(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
        """List the shipped hardware profiles: kind, runtime, measurements and held-out accuracy."""
        rows = [p.summary() for p in list_profiles()]
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = Table("name", "kind", "runtime", "measurements", "acc10", "τ", "features")
        table.columns[0].no_wrap = True
        for r in rows:
            table.add_row(r["name"], r["kind"], r["runtime"], str(r["n_measurements"]), fmt_metric(r["acc10"]), fmt_metric(r["kendall_tau"]),
                          r["features"])
        console.print(table)
