"""The `hwnas` command. Every user error becomes one line on stderr and exit code 2.

Subcommands live in `cli_*` modules and load on first use: `hwnas --help` lists them from `COMMANDS`
without importing any (so no torch), and `hwnas devices` imports only what listing profiles needs.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click import exceptions as click_exceptions  # typer's own click, whose errors its commands raise
from typer.core import TyperCommand, TyperGroup

from hwnas._cli_common import console

HELP = "Hardware-aware neural architecture search."

#: command -> (module that registers it, one-line help shown by `hwnas --help`; a test checks it is the command's own)
COMMANDS: dict[str, tuple[str, str]] = {
    "spaces": ("hwnas.cli_spaces", "List the search spaces and presets: subnet counts and smallest/largest params."),
    "sample": ("hwnas.cli_spaces", "Print random archs of a space, one JSON object per line."),
    "cost": ("hwnas.cli_spaces", "Params and MACs of one subnet (fvcore trace of the extracted module) and its op count."),
    "run": ("hwnas.cli_search", "Run (or resume) an experiment to its budget; trials are stored as they finish."),
    "experiments": ("hwnas.cli_search", "List the experiments in a storage."),
    "pareto": ("hwnas.cli_search", "The non-dominated feasible trials, with the command that extracts each."),
    "dashboard": ("hwnas.cli_search", "Pareto-front dashboard and JSON API (/api/experiments, /api/pareto) over a storage."),
    "trials": ("hwnas.cli_search", "Every finished trial of an experiment."),
    "extract": ("hwnas.cli_export", "Write a subnet as arch.json, model.pt, model.onnx (checked with ONNX Runtime) and README.md."),
    "train": ("hwnas.cli_export", "Fine-tune (or train from scratch) an extracted subnet; writes metrics.json and the new weights."),
    "train-supernet": ("hwnas.cli_train", "Train a supernet with the sandwich rule and in-place distillation; checkpoints every epoch."),
    "latency": ("hwnas.cli_latency", "Predicted latency of subnets on a device; --explain gives ms per op class and its provenance."),
    "predict": ("hwnas.cli_predict", "Predicted latency of any ONNX model on a device, op by op; unpriceable operators are named."),
    "devices": ("hwnas.cli_devices", "List the shipped hardware profiles: kind, runtime, measurements and held-out accuracy."),
    "hardware": ("hwnas.cli_hardware", "Co-design: hardware spaces, accelerator cost model, ZigZag calibration."),
    "profile": ("hwnas.cli_profiles", "Measure, calibrate, predict with and validate hardware profiles."),
    "agent": ("hwnas.cli_agent", "The measuring agent: serve this device's ONNX Runtime to `--device agent://HOST:PORT`."),
    "surrogate": ("hwnas.cli_surrogate", "Fit an accuracy surrogate on an experiment's trials (saved as JSON); predict with it."),
}


@functools.cache
def module_commands(module_name: str) -> dict[str, Any]:
    """The click commands one `cli_*` module registers (its `register(app, console)`), built once."""
    sub = typer.Typer(add_completion=False)
    importlib.import_module(module_name).register(sub, console)
    command = typer.main.get_command(sub)
    return dict(command.commands) if isinstance(command, TyperGroup) else {command.name or "": command}


class LazyCommands(TyperGroup):
    """A command group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module, summary = COMMANDS[cmd_name]
        if ctx.resilient_parsing or getattr(ctx, "_hwnas_listing", False):  # --help: the summary is enough
            return TyperCommand(cmd_name, help=summary, short_help=summary)
        return module_commands(module)[cmd_name]

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        ctx._hwnas_listing = True  # type: ignore[attr-defined]
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx._hwnas_listing = False  # type: ignore[attr-defined]


def lazy_cli() -> TyperGroup:
    return LazyCommands(name="hwnas", help=HELP, no_args_is_help=True)


def full_app() -> typer.Typer:
    """Every subcommand registered on one Typer app (imports every `cli_*` module; tests use it)."""
    app = typer.Typer(add_completion=False, no_args_is_help=True, help=HELP)
    for module in dict.fromkeys(module for module, _ in COMMANDS.values()):
        importlib.import_module(module).register(app, console)
    return app


def __getattr__(name: str) -> Any:  # `from hwnas.cli import app` builds the full app on first use
    if name == "app":
        globals()["app"] = full_app()
        return globals()["app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(args: Sequence[str] | None = None) -> int:
    """`hwnas ARGS` and its exit code. A usage error (unknown option, value out of range) is one line on
    stderr and exit code 2, like every user error; `hwnas` alone prints the help."""
    args = sys.argv[1:] if args is None else list(args)
    try:
        code = lazy_cli().main(args=args or ["--help"], prog_name="hwnas", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:  # a group run without its subcommand
        print(exc.format_message())
        return 0
    except click_exceptions.ClickException as exc:
        where = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "hwnas"
        message = " ".join(exc.format_message().split())
        print(f"hwnas: error: {where}: {message}", file=sys.stderr)
        return exc.exit_code
    except click_exceptions.Abort:
        print("hwnas: aborted", file=sys.stderr)
        return 1
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
