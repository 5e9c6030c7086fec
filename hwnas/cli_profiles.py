"""`hwnas profile …`: calibrate, predict, measure, validate.

Registered by `hwnas.cli`; every user error becomes one line on stderr and exit code 2, and nothing
is left half-written in --out (profiles are written to a temp dir and renamed into place).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from hwnas._cli_common import console, fmt_metric, user_errors
from hwnas.errors import DataFileError, UnknownNameError
from hwnas.hw_profiles import DEVICE_KINDS, get_profile, save_profile
from hwnas.hw_profiles._calibrate_op_level import calibrate_help_columns
from hwnas.hw_profiles._common import DEFAULT_BLOCKS, DEFAULT_MAX_DRIFT, DEFAULT_PAUSE_S
from hwnas.hw_profiles._few_shot import calibrate_few_shot, file_source, read_measurements, suggest_archs
from hwnas.hw_profiles._measure import (
    check_device,
    measure_archs,
    measure_kernels,
    measure_profile,
    runtime_label,
    validate_local,
)
from hwnas.hw_profiles._op_level import FUSIONS
from hwnas.hw_profiles._sources import CALIBRATION_SOURCES, space_of
from hwnas.hw_profiles.agent_client import is_agent
from hwnas.predictors import metrics
from hwnas.search_spaces import get_space

profile_app = typer.Typer(add_completion=False, no_args_is_help=True,
                          help="Hardware profiles: calibrate on public measurements, measure this machine, predict, validate.")
_user_errors = user_errors


@profile_app.command()
@_user_errors
def calibrate(
    files: list[Path] = typer.Argument(None, metavar="FILE...", help="Measurements: HAT latency CSVs or HELP latency CSVs "
                                       "(several: one profile fitted on all of them), or an nn-Meter LUT JSON."),
    source: Optional[str] = typer.Option(None, "--source", help=" or ".join(CALIBRATION_SOURCES.names()) + "."),
    few_shot: Optional[Path] = typer.Option(None, "--few-shot", help="A few measured subnets of a new device (JSON lines of "
                                            "arch + ms, an arch CSV, or a HELP CSV with --column): a mix of base profiles."),
    column: Optional[str] = typer.Option(None, "--column", help="--few-shot: the file's latency column."),
    bases: Optional[list[str]] = typer.Option(None, "--base", help="--few-shot: base profiles to mix (default: every shipped one "
                                              "that prices the space); repeatable."),
    out: Path = typer.Option(..., "--out", help="Profile directory to write (replaced atomically if it exists)."),
    devices: Optional[list[str]] = typer.Option(None, "--device", help="Device name (default: from the file name); "
                                                "help-csv: the column (once, or once per FILE)."),
    space_name: Optional[str] = typer.Option(None, "--space", help="help-csv: the space the rows are subnets of (checked); "
                                             "arch-csv: the space they are subnets of."),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="arch-csv: the space's preset."),
    name: Optional[str] = typer.Option(None, "--name", help="help-csv, arch-csv: the profile's device name (default: the column)."),
    fusion: str = typer.Option("eager", "--fusion", help="arch-csv: eager (PyTorch), deployed (BatchNorm, activations fold into convs) or onnxruntime (only ReLU, ReLU6, tanh fold)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="cpu, gpu, mobile-cpu or accelerator (default: from the file)."),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="Runtime the measurements used."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile's facts as JSON."),
) -> None:
    """Fit a profile on public measurements (validation on a held-out 20 % stored inside it), or with --few-shot a new
    device's profile from a few of its measured subnets (leave-one-out error stored inside it)."""
    if kind is not None and kind not in DEVICE_KINDS:
        raise UnknownNameError("device kind", kind, DEVICE_KINDS)
    if few_shot is not None:
        if files or source is not None:
            raise DataFileError("--few-shot FILE takes no FILE arguments and no --source")
        if space_name is None or not devices or len(devices) != 1:
            raise DataFileError("--few-shot FILE needs --space SPACE and --device NAME (the new device's profile name)")
        space = get_space(space_name, preset)
        archs, measured = read_measurements(few_shot, space, column)
        profile, model = calibrate_few_shot(space, archs, measured, devices[0], bases=bases, kind=kind, runtime=runtime,
                                            provenance={"measurements": file_source(few_shot, column)})
        _report_calibrated(profile, model, out, as_json)
        return
    if not files or source is None:
        raise DataFileError("give FILE... with --source SOURCE, or --few-shot FILE")
    entry, devices = CALIBRATION_SOURCES.get(source), devices or []
    if entry.space_option:
        if space_name is None or len(files) != 1 or len(devices) != 1:
            raise DataFileError(f"source {source!r} reads one FILE of subnets of --space SPACE, with one --device COLUMN")
        if fusion not in FUSIONS:
            raise UnknownNameError("fusion", fusion, FUSIONS)
        profile, model = entry.calibrate(files[0], get_space(space_name, preset), devices[0], name=name, kind=kind,
                                         runtime=runtime, fusion=fusion)
    elif entry.has_spaces:
        if len(devices) not in (1, len(files)):
            raise DataFileError(f"--device: give the column once, or once per FILE ({len(files)}); got {len(devices)}")
        pairs = list(zip(files, devices * len(files) if len(devices) == 1 else devices))
        for file, _ in pairs:
            _check_space(source, file, space_name)
        profile, model = calibrate_help_columns(pairs, name=name, kind=kind, runtime=runtime)
    else:
        if (len(files) != 1 and not entry.many_files) or len(devices) > 1 or name is not None:
            one = "FILE..." if entry.many_files else "one FILE"
            raise DataFileError(f"source {source!r} calibrates {one} with at most one --device (and no --name)")
        profile, model = entry.calibrate(files if entry.many_files else files[0], device=devices[0] if devices else None,
                                         kind=kind, runtime=runtime)
    _report_calibrated(profile, model, out, as_json)


def _report_calibrated(profile: Any, model: Any, out: Path, as_json: bool) -> None:
    save_profile(profile, model, out)
    facts = {**profile.summary(), "validation": profile.validation}
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    m = profile.metrics
    console.print(f"wrote {out}: {profile.device} ({profile.kind}, {profile.runtime}), {profile.n_measurements} measurements; "
                  f"held-out acc10 {fmt_metric(m.get('acc10'))}, τ {fmt_metric(m.get('kendall_tau'))}, MAPE {fmt_metric(m.get('mape'))}")


@profile_app.command()
@_user_errors
def predict(
    file: Path = typer.Argument(..., metavar="FILE", help="Rows/keys to price: a HAT or HELP latency CSV or an nn-Meter LUT JSON."),
    profile_name: str = typer.Option(..., "--profile", help="Profile directory or shipped profile name."),
    source: str = typer.Option(..., "--source", help=" or ".join(CALIBRATION_SOURCES.names()) + "."),
    column: Optional[str] = typer.Option(None, "--column", help="help-csv, arch-csv: the measured column (default: the profile's)."),
    as_json: bool = typer.Option(False, "--json", help="Print every prediction as JSON."),
) -> None:
    """One prediction (ms) per row/key of FILE, scored against the latencies FILE holds."""
    entry = CALIBRATION_SOURCES.get(source)
    profile = get_profile(profile_name)
    by_column = entry.has_spaces or entry.space_option
    rows, predicted, measured = entry.score(profile, file, column) if by_column else entry.score(profile, file)
    result = {"profile": profile.device, "source": source, "file": str(file), "metrics": metrics.summary(measured, predicted),
              "predictions": rows}
    if as_json:
        print(json.dumps(result))
        return
    m = result["metrics"]
    console.print(f"{profile.device}: {len(rows)} predictions for {file}; acc10 {fmt_metric(m['acc10'])}, τ {fmt_metric(m['kendall_tau'])}, "
                  f"MAPE {fmt_metric(m['mape'])}, RMSE {fmt_metric(m['rmse_ms'])} ms")


@profile_app.command()
@_user_errors
def measure(
    device: str = typer.Option("local-cpu", "--device",
                               help="local-cpu, local-gpu (torch CUDA; refused without a GPU), or agent://HOST:PORT."),
    runtime: Optional[str] = typer.Option(None, "--runtime",
                                          help="torch or onnxruntime (CPU); default torch, onnxruntime on an agent."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="An agent's token (or set HWNAS_AGENT_TOKEN)."),
    space_name: Optional[str] = typer.Option(None, "--space",
                                             help="Search space whose subnets are measured (not with --kernels)."),
    preset: Optional[str] = typer.Option(None, "--preset", "-p"),
    n: Optional[int] = typer.Option(None, "-n", min=1, help="Random subnets to measure (default 100: a unit cost per op "
                                    "class needs ~100); with --kernels, kernels (default 400)."),
    out: Path = typer.Option(..., "--out", help="Profile directory to write."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads while measuring."),
    warmup: int = typer.Option(5, "--warmup", min=0),
    repeats: int = typer.Option(30, "--repeats", min=1),
    statistic: str = typer.Option("median", "--statistic", help="median, or min on a machine others load."),
    seed: int = typer.Option(0, "--seed"),
    blocks: int = typer.Option(DEFAULT_BLOCKS, "--blocks", min=1, help="Blocks the rounds run in (validation does the same)."),
    pause: float = typer.Option(DEFAULT_PAUSE_S, "--pause", min=0.0, help="Seconds between blocks."),
    few_shot: bool = typer.Option(False, "--few-shot", help="Measure only the -n subnets `profile suggest` picks and fit a "
                                  "few-shot profile (a mix of base profiles)."),
    bases: Optional[list[str]] = typer.Option(None, "--base",
                                              help="--few-shot: base profiles to mix (default: every shipped one)."),
    name: Optional[str] = typer.Option(None, "--name", help="--few-shot: the new profile's device name (default: --device)."),
    kernels: bool = typer.Option(False, "--kernels", help="Measure single kernels over common architectures' shapes instead "
                                 "of a space's subnets: a profile for any model (`hwnas predict`); -n kernels (default 400)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Measure random subnets (or, with --kernels, single ops) on this machine or an agent's device (under an exclusive
    lock) and fit an op-level profile."""
    if kernels:
        if space_name is not None or few_shot:
            raise DataFileError("--kernels measures single ops for any model: it takes no --space and no --few-shot")
        runtime = runtime or "onnxruntime"
        profile, model = measure_kernels(n or 400, device, runtime, threads, warmup, repeats, statistic, seed,
                                         str(token_file) if token_file else None)
        _report_calibrated(profile, model, out, as_json)
        return
    if space_name is None:
        raise DataFileError("--space SPACE names the space whose subnets are measured (or pass --kernels)")
    n = n or 100
    runtime = runtime or ("onnxruntime" if is_agent(device) else "torch")
    check_device(device, runtime)
    space = get_space(space_name, preset)
    if few_shot:
        archs = suggest_archs(space, n, bases, seed=seed)
        measured, facts = measure_archs(space, archs, device, runtime, threads, warmup, repeats, statistic, blocks, pause,
                                        str(token_file) if token_file else None)
        profile, model = calibrate_few_shot(space, archs, measured, name or device, bases=bases,
                                            kind="gpu" if device == "local-gpu" else "cpu", threads=threads,
                                            runtime=runtime_label(runtime, facts), provenance={"measured": facts})
        _report_calibrated(profile, model, out, as_json)
        return
    profile, model = measure_profile(space, n, device, runtime, threads, seed, warmup, repeats, statistic=statistic,
                                     blocks=blocks, pause_s=pause, token_file=str(token_file) if token_file else None)
    save_profile(profile, model, out)
    if as_json:
        print(json.dumps({**profile.summary(), "validation": profile.validation}, indent=2))
        return
    m = profile.metrics
    console.print(f"wrote {out}: {profile.n_measurements} measurements of {space.name}/{space.preset}; "
                  f"held-out acc10 {fmt_metric(m.get('acc10'))}, τ {fmt_metric(m.get('kendall_tau'))}")


@profile_app.command()
@_user_errors
def validate(
    profile_name: str = typer.Option(..., "--profile", help="Profile directory made by `hwnas profile measure`."),
    space_name: str = typer.Option(..., "--space"),
    preset: Optional[str] = typer.Option(None, "--preset", "-p"),
    n: int = typer.Option(30, "-n", min=2, help="Fresh random subnets to measure."),
    repeats: int = typer.Option(30, "--repeats", min=1),
    seed: int = typer.Option(1, "--seed"),
    max_drift: float = typer.Option(DEFAULT_MAX_DRIFT, "--max-drift", min=0.0,
                                    help="Refuse when the profile's anchor subnets now run this much slower or faster."),
    device: Optional[str] = typer.Option(None, "--device", help="An agent profile's agent, if its address changed."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="An agent's token (or set HWNAS_AGENT_TOKEN)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Measure fresh random subnets now and score the profile: acc10, τ and per-arch rows."""
    report = validate_local(get_profile(profile_name), get_space(space_name, preset), n, seed, repeats=repeats,
                            max_drift=max_drift, device=device, token_file=str(token_file) if token_file else None)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table("arch", "measured ms", "predicted ms", "error")
    for row in report["archs"]:
        table.add_row(row["arch_id"], f"{row['measured_ms']:.3f}", f"{row['predicted_ms']:.3f}", f"{row['error']:+.1%}")
    console.print(table)
    drift = report["anchor_drift"]
    console.print(f"acc10 {fmt_metric(report['acc10'])}, τ {fmt_metric(report['kendall_tau'])} over {report['n']} subnets"
                  + ("" if drift is None else f"; machine speed vs the profile's anchors {drift:+.1%}"))


@profile_app.command()
@_user_errors
def suggest(
    space_name: str = typer.Option(..., "--space"),
    preset: Optional[str] = typer.Option(None, "--preset", "-p"),
    n: int = typer.Option(10, "-n", min=1, help="Subnets to measure."),
    bases: Optional[list[str]] = typer.Option(None, "--base",
                                              help="Base profiles (default: every shipped one that prices the space)."),
    pool: int = typer.Option(1000, "--pool", min=1, help="Random subnets to choose among."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """The -n subnets worth measuring on a new device for a few-shot profile, one arch JSON per line: spread over
    the base profiles' predictions (their range, and where they disagree)."""
    for arch in suggest_archs(get_space(space_name, preset), n, bases, pool=pool, seed=seed):
        print(json.dumps(arch.to_dict()))


def _check_space(source: str, file: Path, space_name: str | None) -> None:
    """`--space` names the space a help-csv file's rows belong to; other sources have none."""
    if space_name is None:
        return
    if not CALIBRATION_SOURCES.get(source).has_spaces:
        raise DataFileError(f"--space: source {source!r} holds no subnets of a space (help-csv does)")
    get_space(space_name)  # an unknown name is one clear line
    found = space_of(source, file)
    if found != space_name:
        raise DataFileError(f"{file}: its rows are subnets of {found!r}, not of --space {space_name!r}")


def register(app: typer.Typer, console: Console) -> None:
    """Add `profile …` to the `hwnas` app."""
    app.add_typer(profile_app, name="profile", help="Measure, calibrate, predict with and validate hardware profiles.")


__all__ = ["profile_app", "register"]
