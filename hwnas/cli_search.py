"""`hwnas run`, `experiments`, `pareto`, `trials`: the search commands."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hwnas._cli_common import user_errors as _user_errors
from hwnas._defaults import DEFAULT_STORAGE
from hwnas.errors import HwnasError
from hwnas.search import Experiment, list_experiments, load_spec, open_storage
from hwnas.search.queries import all_rows, front_rows
from hwnas.search.storage import redact

DEFAULT_STORAGE_HELP = "Optuna storage URL (sqlite:///x.db, postgresql://…, journal:///x.log); default: the spec's."


def register(app: typer.Typer, console: Console) -> None:
    """Add the search commands to the `hwnas` app."""

    @app.command()
    @_user_errors
    def run(
        spec_path: Path = typer.Argument(..., metavar="SPEC", help="Experiment spec (YAML)."),
        storage: Optional[str] = typer.Option(None, "--storage", help=DEFAULT_STORAGE_HELP),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Parallel Ray workers (searcher kind ray)."),
    ) -> None:
        """Run (or resume) an experiment to its budget; trials are stored as they finish."""
        spec = load_spec(spec_path)
        if workers is not None:
            spec.searcher.workers = workers
        experiment = Experiment(spec, storage)
        warning = _weak_sharing(spec.supernet)
        if warning:
            console.print(warning)
        budget = spec.budget.trials
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("feasible {task.fields[feasible]}  front {task.fields[front]}  HV {task.fields[hv]}")]
        start = experiment.progress()
        last_draw, draw_cost = [0.0], [0.0]
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(spec.name, total=budget, completed=start.done, feasible=start.feasible,
                                front=start.front_size, hv=f"{start.hypervolume:.4g}")

            def update(progress) -> None:  # noqa: ANN001
                bar.update(task, completed=progress.done, feasible=progress.feasible, front=progress.front_size,
                           hv=f"{progress.hypervolume:.4g}")

            def on_trial(_progress=None) -> None:  # noqa: ANN001
                now = time.monotonic()
                if now - last_draw[0] > max(0.5, 10 * draw_cost[0]):  # a redraw (front, HV) takes at most ~10 %
                    update(experiment.progress())
                    last_draw[0], draw_cost[0] = time.monotonic(), time.monotonic() - now

            experiment.run(on_trial=on_trial, lazy_progress=True)
            update(experiment.progress())
        done = experiment.progress()
        if experiment.stopped_early and (done.budget is None or done.done < done.budget):
            console.print(f"[yellow]stopped before the budget[/]: {experiment.stopped_early}")
        where = redact(experiment.storage_url)
        console.print(f"{spec.name}: {done.done} trials in {where}, {done.feasible} feasible, "
                      f"front of {done.front_size}.  Next: hwnas pareto --experiment {spec.name} --storage {where}")

    @app.command()
    @_user_errors
    def experiments(
        storage: str = typer.Option(DEFAULT_STORAGE, "--storage", help=DEFAULT_STORAGE_HELP),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """List the experiments in a storage."""
        rows = [s.to_dict() for s in list_experiments(open_storage(storage, read_only=True))]
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = Table("name", "space", "preset", "searcher", "objectives", "done", "feasible", "last update")
        for r in rows:
            table.add_row(r["name"], r["space"], r["preset"], r["searcher"], ", ".join(r["objectives"]),
                          str(r["trials_done"]), str(r["trials_feasible"]), r["last_update"] or "")
        console.print(table)

    @app.command()
    @_user_errors
    def pareto(
        experiment: str = typer.Option(..., "--experiment"),
        storage: str = typer.Option(DEFAULT_STORAGE, "--storage", help=DEFAULT_STORAGE_HELP),
        objectives: Optional[str] = typer.Option(None, "--objectives", help="Comma-separated subset, e.g. naswot,flops_m."),
        where: Optional[str] = typer.Option(None, "--where", help="Filter, e.g. 'params_m <= 0.05 and flops_m < 0.5'."),
        fmt: str = typer.Option("table", "--format", help="table, json or csv."),
    ) -> None:
        """The non-dominated feasible trials, with the command that extracts each."""
        rows = front_rows(storage, experiment, objectives, where)
        _print_rows(console, rows, fmt, experiment)

    @app.command()
    @_user_errors
    def dashboard(
        storage: str = typer.Option(DEFAULT_STORAGE, "--storage", help=DEFAULT_STORAGE_HELP),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; 0.0.0.0 opens it to the network."),
        port: int = typer.Option(8050, "--port", min=1, max=65535),
    ) -> None:
        """Pareto-front dashboard and JSON API (/api/experiments, /api/pareto) over a storage."""
        open_storage(storage, read_only=True)  # a bad storage is refused before Dash loads (seconds)
        from hwnas.dashboard import serve  # heavy (Dash, Flask, Plotly): only this command serves pages

        serve(storage, host=host, port=port)

    @app.command()
    @_user_errors
    def trials(
        experiment: str = typer.Option(..., "--experiment"),
        storage: str = typer.Option(DEFAULT_STORAGE, "--storage", help=DEFAULT_STORAGE_HELP),
        fmt: str = typer.Option("csv", "--format", help="csv, json or table."),
    ) -> None:
        """Every finished trial of an experiment."""
        _print_rows(console, all_rows(storage, experiment), fmt, experiment)


def _print_rows(console: Console, rows: list[dict], fmt: str, experiment: str) -> None:
    if fmt not in ("table", "json", "csv"):
        raise HwnasError(f"--format {fmt!r}: choose table, json or csv")
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    flat = [{k: (json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) else v) for k, v in r.items()} for r in rows]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        print(out.getvalue(), end="")
        return
    shown = [c for c in columns if c not in ("arch", "extract", "state")]
    table = Table(*shown, title=f"{experiment}: {len(rows)} trials")
    for r in flat:
        table.add_row(*[f"{r[c]:.4g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in shown])
    console.print(table)
    if rows and "extract" in rows[0]:
        console.print(f"extract a trial: {rows[0]['extract']}  (change --trial)")


def _weak_sharing(supernet: str | None) -> str | None:
    """The line of a spec's supernet whose sharing check (`supernet.json`) says inherited scores will hardly rank
    subnets: told before the search spends its budget on them."""
    if supernet is None:
        return None
    from hwnas.training import read_meta  # torch: only a spec with a supernet gets here
    from hwnas.training._sharing import sharing_line

    sharing = read_meta(Path(supernet)).get("sharing")
    return f"supernet {supernet}: {sharing_line(sharing)}" if sharing and sharing.get("weak") else None

