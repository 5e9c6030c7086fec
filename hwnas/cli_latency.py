"""`hwnas latency`: what a device profile predicts for subnets of a space, and where the milliseconds come from.

Each arch gets its latency or the one-line reason it is outside the profile's domain (exit code 1 when any
is); `--explain` (op-level profiles) splits a prediction by op class with each class's provenance:
measured, composed from measured classes, or extrapolated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from hwnas._cli_args import read_arch, read_archs_file, read_space
from hwnas._cli_common import user_errors
from hwnas.errors import HwnasError, OutOfDomainError
from hwnas.hw_profiles import get_profile, predict_archs_ms
from hwnas.hw_profiles._op_level import PROVENANCE
from hwnas.hw_profiles._predict import explain_arch


def _price(profile: Any, space: Any, arch: Any, explain: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"arch_id": arch.id}
    try:
        row["latency_ms"] = float(predict_archs_ms(profile, space, [arch])[0])
        if explain:
            row["explain"] = explain_arch(profile, space, arch).to_dict()
    except OutOfDomainError as exc:
        row["out_of_domain"] = str(exc)
    return row


def register(app: typer.Typer, console: Console) -> None:
    """Add `latency` to the `hwnas` app."""

    @app.command()
    @user_errors
    def latency(
        space_name: str = typer.Argument(..., metavar="SPACE"),
        device: str = typer.Option(..., "--device", help="Shipped profile name (hwnas devices) or profile directory."),
        arch: Optional[str] = typer.Option(None, "--arch", help="Arch JSON, a JSON file, min, max, or a named arch."),
        archs_file: Optional[Path] = typer.Option(None, "--archs", help="JSON-lines file of archs (as `hwnas sample` prints)."),
        preset: Optional[str] = typer.Option(None, "--preset", "-p"),
        explain: bool = typer.Option(False, "--explain", help="Ms per op class and its provenance (op-level profiles)."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per arch."),
    ) -> None:
        """Predicted latency of subnets on a device; --explain gives ms per op class and its provenance."""
        if (arch is None) == (archs_file is None):
            raise HwnasError("give one of --arch or --archs")
        space = read_space(space_name, preset)
        archs = [read_arch(space, arch)] if arch is not None else read_archs_file(space, archs_file)  # type: ignore[arg-type]
        profile = get_profile(device)
        rows = [_price(profile, space, a, explain) for a in archs]
        workload = space.latency_workload or f"one forward pass, batch {profile.batch}"
        if space.latency_workload and profile.batch != 1:
            workload += f"; profile {profile.device!r} was measured on batches of {profile.batch}"
        if as_json:
            for row in rows:
                print(json.dumps({"space": space.name, "preset": space.preset, "device": profile.device,
                                  "workload": workload, **row}))
        else:
            if space.latency_workload:  # say what the milliseconds are of, where it is not one forward pass
                console.print(f"{space.label}: latency = {workload}", markup=False)
            for row in rows:
                _show(console, profile.device, row)
        if any("out_of_domain" in row for row in rows):
            raise typer.Exit(1)


def _show(console: Console, device: str, row: dict[str, Any]) -> None:
    if "out_of_domain" in row:
        console.print(f"{row['arch_id']}: out of domain: {row['out_of_domain']}", markup=False)
        return
    console.print(f"{row['arch_id']}: {row['latency_ms']:.3f} ms on {device}")
    if "explain" in row:
        show_explanation(console, row["explain"])


def show_explanation(console: Console, e: dict[str, Any]) -> None:
    """An `Explanation.to_dict()` as a table of op classes (ms, share, provenance) and the provenance shares."""
    table = Table("op class", "ms", "share", "provenance")
    table.add_row("(overhead)", f"{e['overhead_ms']:.3f}", f"{e['overhead_ms'] / e['ms']:.1%}", "measured")
    if abs(e["correction_ms"]) > 1e-9 * max(e["ms"], 1e-12):  # rounding leaves a few attoseconds where there is none
        table.add_row("(own-space correction)", f"{e['correction_ms']:+.3f}", f"{e['correction_ms'] / e['ms']:+.1%}", "measured")
    for entry in e["classes"]:
        by = entry.get("ms_by_provenance") or {entry["provenance"]: entry["ms"]}
        where = (entry["provenance"] if len(by) == 1 or not entry["ms"]
                 else " · ".join(f"{p} {by[p] / entry['ms']:.0%}" for p in PROVENANCE if by.get(p)))
        table.add_row(entry["op_class"], f"{entry['ms']:.3f}", f"{entry['ms'] / e['ms']:.1%}", where)
    console.print(table)
    shares = ", ".join(f"{name} {share:.0%}" for name, share in e["share"].items())
    console.print(f"of the predicted ms: {shares}")


__all__ = ["register", "show_explanation"]
