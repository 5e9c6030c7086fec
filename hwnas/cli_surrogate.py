"""`hwnas surrogate fit|predict`: an accuracy surrogate of an experiment's evaluated trials, saved as JSON.

`fit` reads a stored experiment (read-only), fits a `SurrogateEnsemble` of one metric over its complete
trials and says how well it ranks subnets it did not see (k-fold Kendall τ); `predict` prices archs of the
same space with a saved surrogate: mean and spread per arch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from hwnas._cli_args import read_arch, read_archs_file
from hwnas._cli_common import user_errors
from hwnas._defaults import DEFAULT_STORAGE
from hwnas.codesign import JointSpace, space_from_options
from hwnas.errors import HwnasError, ProfileError
from hwnas.predictors import SurrogateEnsemble, load_predictor
from hwnas.search import schema
from hwnas.search.pareto import TrialRow, trial_rows
from hwnas.search.storage import load_study, open_storage
from hwnas.search.surrogate import ArchFeatures, fit_surrogate
from hwnas.search_spaces import Arch, get_space

surrogate_app = typer.Typer(add_completion=False, no_args_is_help=True,
                            help="Fit an accuracy surrogate on an experiment's trials (saved as JSON); predict with it.")
#: Metrics that are counted or predicted: never a surrogate's default target.
CHEAP_PREFIXES = ("params_m", "flops_m", "latency_ms@", "latency_unmeasured@")


def _space_of(spec: dict[str, Any]) -> Any:
    """The space an experiment searched: its arch space, or arch × hardware in co-design."""
    space_spec = spec.get("space") or {}
    try:
        space = get_space(space_spec.get("name"), space_spec.get("preset"), **(space_spec.get("options") or {}))
    except TypeError as exc:
        raise HwnasError(f"space options: {exc}") from None
    hardware = spec.get("hardware")
    if not hardware:
        return space
    return JointSpace(space, space_from_options(hardware.get("kind"), hardware.get("options") or {}))


def _point(space: Any, row: TrialRow) -> Arch:
    if isinstance(space, JointSpace):
        config = {k: v for k, v in row.hardware.items() if k != "hw_id"}
        return space.validate(space.merge(Arch(row.arch), config))  # type: ignore[arg-type]
    return space.validate(Arch(row.arch))


def _default_metric(keys: list[str]) -> str:
    expensive = [k for k in keys if not k.startswith(CHEAP_PREFIXES)]
    if "accuracy" in expensive:
        return "accuracy"
    if not expensive:
        raise HwnasError(f"the experiment's objectives ({', '.join(keys)}) are all counted or predicted; "
                         "name the metric to model with --metric")
    return expensive[0]


def _read_points(space: Any, arch: Optional[str], archs_file: Optional[Path]) -> list[Arch]:
    if (arch is None) == (archs_file is None):
        raise HwnasError("give one of --arch or --archs")
    if archs_file is not None:
        return read_archs_file(space, archs_file)  # type: ignore[arg-type]
    if isinstance(space, JointSpace):  # arch × hardware: the point's JSON, hardware under hw.* keys
        return [space.validate(Arch.from_json(arch))]  # type: ignore[arg-type]
    return [read_arch(space, arch)]  # type: ignore[arg-type]


def register(app: typer.Typer, console: Console) -> None:
    """Add `surrogate fit` and `surrogate predict` to the `hwnas` app."""

    @surrogate_app.command("fit")
    @user_errors
    def fit(
        experiment: str = typer.Option(..., "--experiment"),
        out: Path = typer.Option(..., "--out", help="Where the surrogate's JSON goes."),
        storage: str = typer.Option(DEFAULT_STORAGE, "--storage", help="Optuna storage URL of the experiment."),
        metric: Optional[str] = typer.Option(None, "--metric", help="The metric to model (default: accuracy, or the "
                                             "first objective that is neither counted nor predicted)."),
        folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds for the held-out ranking figures."),
        members: int = typer.Option(5, "--members", min=2, help="Bootstrap members of the ensemble."),
        mlp: bool = typer.Option(False, "--mlp", help="Each member fits a small MLP beside its trees."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Fit a surrogate of one metric on an experiment's complete trials; report its k-fold ranking."""
        study = load_study(open_storage(storage, read_only=True), experiment)
        spec = schema.study_spec(study.user_attrs)
        if not spec.get("space"):
            raise HwnasError(f"experiment {experiment!r} holds no hwnas spec (it was not made by `hwnas run`)")
        space = _space_of(spec)
        target = metric or _default_metric(schema.objective_keys(study.user_attrs))
        rows = [r for r in trial_rows(study) if r.state == "COMPLETE" and target in r.metrics]
        if not rows:
            known = sorted({k for r in trial_rows(study) for k in r.metrics})
            raise HwnasError(f"experiment {experiment!r} has no complete trial with metric {target!r}; "
                             f"its trials hold: {', '.join(known) or 'none'}")
        about = {"experiment": experiment, "metric": target, "space": spec["space"], "hardware": spec.get("hardware")}
        fitted = fit_surrogate(space, [_point(space, r) for r in rows], [r.metrics[target] for r in rows],
                               members, mlp, folds, about=about)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(fitted.model.to_dict(), separators=(",", ":")))
        summary = {"out": str(out), "metric": target, "trials": fitted.trials, **fitted.cross_validation}
        if as_json:
            print(json.dumps(summary))
            return
        cv = fitted.cross_validation
        console.print(f"{target} surrogate of {experiment} on {fitted.trials} trials → {out}: {cv['folds']}-fold held-out "
                      f"Kendall τ {cv['kendall_tau']:.3f}, mean abs error {cv['mae']:.4g}.  "
                      f"Next: hwnas surrogate predict --model {out} --archs archs.jsonl")

    @surrogate_app.command("predict")
    @user_errors
    def predict(
        model: Path = typer.Option(..., "--model", help="A surrogate written by `hwnas surrogate fit`."),
        arch: Optional[str] = typer.Option(None, "--arch", help="Arch JSON, a JSON file, min, max, or a named arch."),
        archs_file: Optional[Path] = typer.Option(None, "--archs", help="JSON-lines file of archs (as `hwnas sample` prints)."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per arch."),
    ) -> None:
        """A saved surrogate's prediction (mean and ensemble spread) for archs of its space."""
        surrogate = load_predictor(model)
        if not isinstance(surrogate, SurrogateEnsemble) or not surrogate.about.get("space"):
            raise ProfileError(f"{model}: not a surrogate written by `hwnas surrogate fit` (kind {surrogate.kind})")
        about = surrogate.about
        space = _space_of(about)
        features = ArchFeatures(space)
        if features.names() != about.get("features"):
            raise ProfileError(f"{model}: fitted on other features than this hwnas computes for "
                               f"{about['space'].get('name')}; fit it again")
        points = _read_points(space, arch, archs_file)
        mean, spread = surrogate.predict_with_spread(features.rows(points))
        metric = about.get("metric", "score")
        if as_json:
            for point, m, s in zip(points, mean, spread):
                print(json.dumps({"arch_id": point.id, metric: float(m), f"{metric}_std": float(s)}))
            return
        table = Table("arch id", metric, "± (ensemble spread)", title=f"{about.get('experiment')}: {metric} surrogate")
        for point, m, s in zip(points, mean, spread):
            table.add_row(point.id, f"{m:.4g}", f"{s:.2g}")
        console.print(table)

    app.add_typer(surrogate_app, name="surrogate",
                  help="Fit an accuracy surrogate on an experiment's trials (saved as JSON); predict with it.")
