"""The `hwnas` command. Every user error becomes one line on stderr and exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from hwnas._cli_errors import user_errors
from hwnas.errors import HwnasError, InvalidArchError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Hardware-aware neural architecture search.")
console = Console(width=None if sys.stdout.isatty() else 120)  # pipes and CI get full rows


def _space(name: str, preset: Optional[str], num_classes: Optional[int] = None):  # noqa: ANN202
    from hwnas.search_spaces import get_space

    options = {} if num_classes is None else {"num_classes": num_classes}
    try:
        return get_space(name, preset, **options)
    except TypeError:
        raise HwnasError(f"space {name!r} has no option num_classes") from None


def _read_arch(space, text: str):  # noqa: ANN001, ANN202
    """An arch from JSON text, a JSON file, `min`/`max`, or a named architecture of the space."""
    from hwnas.search_spaces import Arch

    if text in ("min", "max"):
        return space.min_arch() if text == "min" else space.max_arch()
    if text in space.named_archs():
        return space.named_arch(text)
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise InvalidArchError(f"--arch {text!r} is neither JSON, a file, 'min'/'max', nor a named arch "
                                   f"({', '.join(space.named_archs()) or 'none in this space'})")
        text = path.read_text()
    return space.validate(Arch.from_json(text))


def _input_shape(space, text: Optional[str]) -> tuple[int, ...]:  # noqa: ANN001
    default = space.default_input_shape
    if text is None:
        return default
    try:
        dims = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise HwnasError(f"--input {text!r} must be an int or comma-separated ints, e.g. 224 or 3,224,224") from None
    if len(dims) == 1 and len(default) == 3:
        return (default[0], dims[0], dims[0])
    if len(dims) == 1:
        return tuple(dims[0] for _ in default)
    if len(dims) != len(default):
        raise HwnasError(f"--input {text!r} has {len(dims)} dims; this space takes {len(default)} (default {default})")
    return dims


@app.command()
@user_errors
def spaces(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the search spaces and presets: subnet counts and smallest/largest params."""
    from hwnas.search_spaces import all_space_presets, get_space
    from hwnas.search_spaces._ops import total_params

    rows = []
    for name, preset in all_space_presets():
        space = get_space(name, preset)
        rows.append({
            "space": name, "preset": preset, "num_subnets": space.num_subnets(),
            "min_params_m": total_params(space.ops(space.min_arch())) / 1e6,
            "max_params_m": total_params(space.ops(space.max_arch())) / 1e6,
            "named_archs": list(space.named_archs()),
        })
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("space", "preset", "subnets", "min params (M)", "max params (M)", "named archs")
    for column in table.columns[:2]:
        column.no_wrap = True
    for r in rows:
        table.add_row(r["space"], r["preset"], f"{r['num_subnets']:.3e}", f"{r['min_params_m']:.2f}",
                      f"{r['max_params_m']:.2f}", str(len(r["named_archs"])))
    console.print(table)


@app.command()
@user_errors
def sample(
    space_name: str = typer.Argument(..., metavar="SPACE"),
    preset: Optional[str] = typer.Option(None, "--preset", "-p"),
    n: int = typer.Option(1, "-n", min=1, help="How many archs."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (same seed, same archs)."),
) -> None:
    """Print random archs of a space, one JSON object per line."""
    from hwnas.search_spaces._space import as_rng

    space, rng = _space(space_name, preset), as_rng(seed)
    for _ in range(n):
        print(space.sample(rng).to_json())


@app.command()
@user_errors
def cost(
    space_name: str = typer.Argument(..., metavar="SPACE"),
    arch: str = typer.Option(..., "--arch", help="Arch JSON, a JSON file, min, max, or a named arch."),
    preset: Optional[str] = typer.Option(None, "--preset", "-p"),
    input_shape: Optional[str] = typer.Option(None, "--input", help="Input size: 224 or 3,224,224 (default: the preset's)."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", help="Classifier outputs, where the space has a head."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Params and MACs of one subnet (fvcore trace of the extracted module) and its op count."""
    from hwnas.evaluators import subnet_cost

    space = _space(space_name, preset, num_classes)
    chosen = _read_arch(space, arch)
    result = subnet_cost(space, chosen, _input_shape(space, input_shape)).to_dict()
    result.update(space=space.name, preset=space.preset)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    console.print(f"[bold]{space.name}/{space.preset}[/] arch {result['arch_id']}  input {tuple(result['input_shape'])}")
    console.print(f"params {result['params_m']:.3f} M (without embeddings {result['params_without_embeddings_m']:.3f} M)  "
                  f"MACs {result['macs_m']:.1f} M  ops {result['num_ops']}")


def _register_subcommands() -> None:
    from hwnas import cli_search
    from hwnas.cli_profiles import devices_command, profile_app

    cli_search.register(app, console)
    from hwnas import cli_export  # noqa: E402 (extract, train)
    cli_export.register(app, console)
    from hwnas import cli_train  # noqa: E402 (train-supernet)
    cli_train.register(app, console)
    from hwnas import cli_hardware  # noqa: E402 (hardware sample/cost/calibrate)
    cli_hardware.register(app, console)
    app.add_typer(profile_app, name="profile", help="Measure, calibrate, predict with and validate hardware profiles.")
    app.command("devices")(devices_command)


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
