"""`hwnas spaces`, `hwnas sample`, `hwnas cost`: what a space holds, random points of it, one subnet's size."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from hwnas._cli_args import read_arch, read_input_shape, read_space
from hwnas._cli_common import user_errors
from hwnas.evaluators import subnet_cost
from hwnas.search_spaces import all_space_presets, get_space
from hwnas.search_spaces._ops import total_params
from hwnas.search_spaces._space import as_rng


def register(app: typer.Typer, console: Console) -> None:
    """Add `spaces`, `sample` and `cost` to the `hwnas` app."""

    @app.command()
    @user_errors
    def spaces(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
        """List the search spaces and presets: subnet counts and smallest/largest params."""
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
        seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Random seed (same seed, same archs)."),
    ) -> None:
        """Print random archs of a space, one JSON object per line."""
        space, rng = read_space(space_name, preset), as_rng(seed)
        for _ in range(n):
            print(space.sample(rng).to_json())

    @app.command()
    @user_errors
    def cost(
        space_name: str = typer.Argument(..., metavar="SPACE"),
        arch: str = typer.Option(..., "--arch", help="Arch JSON, a JSON file, min, max, or a named arch."),
        preset: Optional[str] = typer.Option(None, "--preset", "-p"),
        input_shape: Optional[str] = typer.Option(None, "--input", help="Input size: 224 or 3,224,224 (default: the preset's)."),
        num_classes: Optional[int] = typer.Option(None, "--num-classes", min=1, help="Classifier outputs, where the space has a head."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Params and MACs of one subnet (fvcore trace of the extracted module) and its op count."""
        space = read_space(space_name, preset, num_classes)
        chosen = read_arch(space, arch)
        result = subnet_cost(space, chosen, read_input_shape(space, input_shape)).to_dict()
        result.update(space=space.name, preset=space.preset)
        if as_json:
            print(json.dumps(result, indent=2))
            return
        console.print(f"[bold]{space.name}/{space.preset}[/] arch {result['arch_id']}  input {tuple(result['input_shape'])}")
        console.print(f"params {result['params_m']:.3f} M (without embeddings {result['params_without_embeddings_m']:.3f} M)  "
                      f"MACs {result['macs_m']:.1f} M  ops {result['num_ops']}")
