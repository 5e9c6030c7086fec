"""`hwnas hardware …`: co-design hardware spaces and the (arch, accelerator) cost model from the shell."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from hwnas._cli_args import read_arch, read_space
from hwnas._cli_common import user_errors as _user_errors
from hwnas.codesign import HARDWARE_KINDS, Accelerator, AcceleratorCostModel, InvalidHardwareError, hardware_space
from hwnas.codesign._calibrate import calibrate
from hwnas.errors import HwnasError


def _choices(pairs: list[str]) -> dict[str, list[Any]]:
    """`KEY=V1,V2` pairs (values read as JSON when they parse) → {key: [values]}."""
    out: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep or not key or not values:
            raise HwnasError(f"--choice {pair!r} must look like KEY=V1,V2, e.g. dataflow=ws,os")
        parsed = []
        for value in values.split(","):
            try:
                parsed.append(json.loads(value))
            except json.JSONDecodeError:
                parsed.append(value)
        out[key] = parsed
    return out


def _accelerator(text: str) -> Any:
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise InvalidHardwareError(f"--accelerator {text!r} is neither a JSON object nor a JSON file")
        text = path.read_text()
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidHardwareError(f"--accelerator is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(config, dict):
        raise InvalidHardwareError("--accelerator must be a JSON object of accelerator fields")
    return Accelerator.from_config(config)


def register(app: typer.Typer, console: Console) -> None:
    """Add `hardware sample|cost|calibrate` to the `hwnas` app."""
    hardware_app = typer.Typer(no_args_is_help=True, help="Co-design: hardware spaces, accelerator cost model, ZigZag calibration.")

    @hardware_app.command("sample")
    @_user_errors
    def sample_command(
        kind: str = typer.Argument(..., help=" or ".join(HARDWARE_KINDS.names())),
        n: int = typer.Option(3, "-n", min=1, help="How many configs."),
        seed: int = typer.Option(0, "--seed"),
        choice: list[str] = typer.Option([], "--choice", help="Narrow a choice: KEY=V1,V2 (repeatable)."),
    ) -> None:
        """Random hardware configs of a space, one JSON line each (with its `hw_id`)."""

        space = hardware_space(kind, _choices(choice))
        for i in range(n):
            config = space.sample(seed * 100_003 + i)
            print(json.dumps({**config.to_dict(), "hw_id": config.id}, sort_keys=True))

    @hardware_app.command("cost")
    @_user_errors
    def cost_command(
        space_name: str = typer.Option(..., "--space", help="Search space, e.g. emov2."),
        preset: Optional[str] = typer.Option(None, "--preset"),
        arch: str = typer.Option("max", "--arch", help="Arch JSON, JSON file, min, max or a named arch."),
        accelerator: str = typer.Option(..., "--accelerator", help="Accelerator fields as JSON or a JSON file."),
        cost_model: str = typer.Option("roofline", "--cost-model", help="roofline (calibrated) or zigzag (reference)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Energy (mJ), latency (ms) and area (mm²) of an arch on an accelerator, with a per-op-kind breakdown."""

        space = read_space(space_name, preset)
        chosen, acc = read_arch(space, arch), _accelerator(accelerator)
        model = AcceleratorCostModel(space, cost_model)
        totals = model.cost(chosen, acc)
        ops = space.ops(chosen)
        by_kind: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        for op, c in zip(ops, model.op_costs(ops, acc)):
            by_kind[op.kind][0] += c.energy_pj * 1e-9
            by_kind[op.kind][1] += c.cycles / (acc.clock_mhz * 1e3)
            by_kind[op.kind][2] += 1
        result = {"space": space.name, "preset": space.preset, "arch_id": chosen.id, "hw_id": acc.id, "cost_model": cost_model,
                  "accelerator": acc.to_dict(), **totals,
                  "by_op_kind": {k: {"energy_mj": v[0], "latency_ms": v[1], "ops": v[2]} for k, v in by_kind.items()}}
        if as_json:
            print(json.dumps(result, indent=2))
            return
        console.print(f"[bold]{space.name}/{space.preset}[/] arch {chosen.id} on accelerator {acc.id} ({cost_model}): "
                      f"energy {totals['energy_mj']:.4g} mJ  latency {totals['accel_latency_ms']:.4g} ms  area {totals['area_mm2']:.4g} mm²")
        table = Table("op kind", "ops", "energy (mJ)", "latency (ms)")
        for kind, (energy, latency, count) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
            table.add_row(kind, str(count), f"{energy:.4g}", f"{latency:.4g}")
        console.print(table)

    @hardware_app.command("calibrate")
    @_user_errors
    def calibrate_command(
        out: Path = typer.Option(..., "--out", help="Calibration JSON to write (the shipped one: hwnas/codesign/calibration.json)."),
        space_name: str = typer.Option("emov2", "--space"),
        preset: Optional[str] = typer.Option("tiny", "--preset"),
        layers: int = typer.Option(24, "--layers", min=1, help="Distinct dense layers sampled from the space."),
        accelerators: int = typer.Option(3, "--accelerators", min=1, help="Accelerators per dataflow."),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Fit the roofline's per-dataflow factors to ZigZag (runs ZigZag on layers × accelerators)."""
        space = read_space(space_name, preset)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("ZigZag runs", total=accelerators * 3)
            document = calibrate(space, max_layers=layers, n_per_dataflow=accelerators, seed=seed,
                                 progress=lambda: progress.advance(task))
        out.write_text(json.dumps(document, indent=2) + "\n")
        for dataflow, fit in document["fit"].items():
            console.print(f"{dataflow}: factors {document['factors'][dataflow]}  energy MAPE {fit['energy']['mape']:.1%} "
                          f"τ {fit['energy']['kendall_tau']:.2f}  latency MAPE {fit['latency']['mape']:.1%} τ {fit['latency']['kendall_tau']:.2f}")
        console.print(f"wrote {out}")

    app.add_typer(hardware_app, name="hardware")
