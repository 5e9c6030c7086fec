"""`hwnas extract` and `hwnas train`: take a searched subnet away with its weights, then train it on a task."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from hwnas._cli_common import user_errors as _user_errors
from hwnas._cli_options import parse_key_values
from hwnas._defaults import DEFAULT_STORAGE
from hwnas.errors import HwnasError
from hwnas.export import extract_subnet, from_arch, train_extracted
from hwnas.search.trial_source import trial_source
from hwnas.tasks import TASKS

STORAGE_HELP = "Optuna storage URL of the experiment (sqlite:///x.db, postgresql://…, journal:///x.log)."


def register(app: typer.Typer, console: Console) -> None:
    """Add `extract` and `train` to the `hwnas` app."""

    @app.command()
    @_user_errors
    def extract(
        out: Path = typer.Option(..., "--out", help="Directory to write (refused if it exists, unless --force)."),
        experiment: Optional[str] = typer.Option(None, "--experiment", help="Experiment (study) name."),
        trial: Optional[int] = typer.Option(None, "--trial", help="Trial number in the experiment (see `hwnas pareto`)."),
        storage: str = typer.Option(DEFAULT_STORAGE, "--storage", help=STORAGE_HELP),
        arch: Optional[str] = typer.Option(None, "--arch", help="Instead of a trial: arch JSON, a JSON file, min, max or a named arch."),
        space: Optional[str] = typer.Option(None, "--space", help="Space of --arch (default: the supernet's)."),
        preset: Optional[str] = typer.Option(None, "--preset", help="Preset of --arch's space."),
        supernet: Optional[Path] = typer.Option(None, "--supernet", help="Trained supernet directory (`hwnas train-supernet --out`)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the initial weights when there is no trained supernet."),
        force: bool = typer.Option(False, "--force", help="Replace the subnet files of an existing --out."),
    ) -> None:
        """Write a subnet as arch.json, model.pt, model.onnx (checked with ONNX Runtime) and README.md."""
        if arch is not None and (experiment is not None or trial is not None):
            raise HwnasError("give either --experiment and --trial, or --arch, not both")
        if arch is None:
            if experiment is None or trial is None:
                raise HwnasError("give --experiment NAME --trial N, or --arch with --space/--preset or --supernet")
            if supernet is not None:
                raise HwnasError("--supernet goes with --arch; an experiment's supernet comes from its spec")
            source = trial_source(storage, experiment, trial)
        else:
            source = from_arch(arch, space, preset, str(supernet) if supernet else None, seed=seed)
        with console.status(f"extracting {source.space}/{source.preset or 'default'} into {out} …"):
            result = extract_subnet(source, out, force=force)
        meta = result.meta
        weights = meta["weights"]["from"]
        console.print(f"[bold]{out}[/]: arch {meta['arch_id']} of {meta['space']}/{meta['preset']}, "
                      f"{meta['params']:,} params, weights: {weights}")
        console.print(f"ONNX check on {meta['onnx']['checked_on']}: max abs diff {result.onnx_max_abs_diff:.2g}")
        if weights == "initial":
            console.print("[yellow]untrained weights[/] (no trained supernet); "
                          f"train them with: hwnas train {out} --task TASK --epochs 5")

    @app.command()
    @_user_errors
    def train(
        directory: Path = typer.Argument(..., metavar="DIR", help="A subnet directory written by `hwnas extract`."),
        task: str = typer.Option(..., "--task", help=f"Task: {', '.join(TASKS.names())}."),
        epochs: int = typer.Option(..., "--epochs", min=1),
        task_option: list[str] = typer.Option([], "--task-option", "-o", help="Task option KEY=VALUE (repeat), e.g. path=data/imgs."),
        from_scratch: bool = typer.Option(False, "--from-scratch", help="Re-initialise the weights instead of fine-tuning."),
        lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate (AdamW, warm-up + cosine)."),
        warmup_steps: int = typer.Option(50, "--warmup-steps", min=0, help="Linear learning-rate warm-up steps (a hard "
                                         "task trained from scratch may need epochs of them to leave chance)."),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Fine-tune (or train from scratch) an extracted subnet; writes metrics.json and the new weights."""
        metrics = train_extracted(directory, task, epochs, parse_key_values(task_option), from_scratch=from_scratch,
                                  lr=lr, seed=seed, progress=True, warmup_steps=warmup_steps)
        bleu = f", BLEU {metrics['bleu_before']:.2f} → {metrics['bleu_after']:.2f}" if "bleu_after" in metrics else ""
        score = "map" if "map_after" in metrics else "accuracy"
        console.print(f"[bold]{directory}[/]: {task} {score} {metrics[f'{score}_before']:.4f} → "
                      f"{metrics[f'{score}_after']:.4f}{bleu} after {epochs} epoch(s) "
                      f"({metrics['seconds_per_epoch']:.2f} s/epoch); wrote metrics.json, model.pt, model.onnx")
