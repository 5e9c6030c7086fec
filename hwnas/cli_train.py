"""`hwnas train-supernet`: sandwich-rule supernet training with checkpoints every epoch and `--resume`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from hwnas._cli_common import user_errors as _user_errors
from hwnas._cli_options import parse_key_values
from hwnas.errors import HwnasError
from hwnas.tasks import TASKS
from hwnas.training import TrainSettings, train_supernet
from hwnas.training._progress import epoch_score
from hwnas.training._sharing import sharing_line
from hwnas.training.checkpoint import CheckpointError, check_identity, read_meta
from hwnas.training.distributed import end, ranks_from_environment
from hwnas.training.supernet import prepare_output
from hwnas.training.tasks import space_and_task


def _resume_identity(out: Path, space: str, preset: Optional[str], task: Optional[str]) -> tuple[str, str, dict[str, Any]]:
    """The stored preset and task of a run to resume, after checking the given space, preset and task against it."""
    prepare_output(out, resume=True, force=False)
    meta = read_meta(out)
    check_identity(meta, out, space, preset)
    if task is not None and task != meta["task"]["name"]:
        raise CheckpointError(f"{out / 'supernet.json'}: task is {meta['task']['name']!r}, expected {task!r}")
    return meta["preset"], meta["task"]["name"], dict(meta["task"].get("options", {}))


def register(app: typer.Typer, console: Console) -> None:
    """Add `train-supernet` to the `hwnas` app."""

    @app.command("train-supernet")
    @_user_errors
    def train_supernet_command(
        space: str = typer.Option(..., "--space", help="Search space, e.g. emov2."),
        preset: Optional[str] = typer.Option(None, "--preset", help="Preset of the space (default: the space's)."),
        task: Optional[str] = typer.Option(None, "--task", help=f"Task: {', '.join(TASKS.names())} (resume: the stored one)."),
        epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs in all (resume: default the stored; more extends)."),
        out: Path = typer.Option(..., "--out", help="Output directory (supernet.json + checkpoint.pt)."),
        batch_size: int = typer.Option(64, "--batch-size", min=1),
        lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate (AdamW, warm-up then cosine)."),
        seed: int = typer.Option(0, "--seed"),
        num_random: int = typer.Option(1, "--num-random", min=0, help="Random subnets per step besides largest and smallest."),
        warmup_steps: int = typer.Option(50, "--warmup-steps", min=0, help="Linear learning-rate warm-up steps."),
        grad_clip: float = typer.Option(1.0, "--grad-clip", help="Clip the gradient norm of each step to this."),
        teacher: Optional[Path] = typer.Option(None, "--teacher", help="Trained supernet dir of the same space to distil from."),
        task_option: list[str] = typer.Option([], "--task-option", "-o", help="Task option KEY=VALUE (repeatable), e.g. num_samples=12000."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
        force: bool = typer.Option(False, "--force", help="Overwrite a trained supernet in --out."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
        device: str = typer.Option("cpu", "--device", help="cpu, or cuda (under torchrun: the GPU of LOCAL_RANK)."),
        precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 or fp16 (autocast; fp16 on GPUs)."),
        objective: str = typer.Option("task", "--objective", help="task (labels, sandwich rule) or masked-distillation "
                                      "(LightHuBERT's distillation stage: the --teacher's hidden states on masked frames)."),
        init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start from this trained supernet's weights "
                                                 "(same space and preset), e.g. the distillation stage's."),
    ) -> None:
        """Train a supernet with the sandwich rule and in-place distillation; checkpoints every epoch.

        Under `torchrun --nproc_per_node N [--nnodes M …] -m hwnas train-supernet …` every process is a rank of
        one data-parallel run (gloo on CPU, NCCL with --device cuda): --batch-size is the global batch, rank 0
        writes --out, and --resume continues it.
        """
        if resume and force:
            raise HwnasError("--resume and --force exclude each other")
        options = parse_key_values(task_option)
        if resume:
            preset, task, stored_options = _resume_identity(out, space, preset, task)
            options = {**stored_options, **options}
        elif task is None:
            raise HwnasError("--task is required (e.g. --task digits)")
        elif epochs is None:
            raise HwnasError("--epochs is required (e.g. --epochs 10)")
        space_obj, task_obj, used_options = space_and_task(space, preset, task, options)
        for flag, given in (("--teacher", teacher), ("--init-from", init_from)):
            if given is not None and not given.is_dir():
                raise HwnasError(f"{flag} {str(given)!r} not found (a directory written by `hwnas train-supernet`)")
        settings = TrainSettings(epochs=epochs or 1, batch_size=batch_size, lr=lr, seed=seed, num_random=num_random,
                                 teacher=str(teacher) if teacher else None, precision=precision,
                                 warmup_steps=warmup_steps, grad_clip=grad_clip, objective=objective,
                                 init_from=str(init_from) if init_from else None)
        settings.check()
        ranks = ranks_from_environment(device)
        try:
            if ranks.is_main:
                where = f", {ranks.world_size} ranks" if ranks.distributed else ""
                console.print(f"training {space_obj.name}/{space_obj.preset} on {task_obj.name} "
                              f"({len(task_obj.x_train)} train / {len(task_obj.x_val)} val{where}) → {out}")
            result = train_supernet(space_obj, task_obj, settings, out, task_name=task, task_options=used_options,
                                    resume=resume, force=force, progress=not quiet, ranks=ranks)
        finally:
            end(ranks)
        if not ranks.is_main:
            return
        table = Table(title=f"{out}  ({result.meta['epochs_done']} epochs)")
        score = epoch_score(result.meta["metrics"][-1]) or "acc"
        for column in ("epoch", "loss", f"max {score}", f"min {score}", "seconds"):
            table.add_column(column, justify="right")
        for m in result.meta["metrics"]:
            table.add_row(str(m["epoch"]), f"{m['loss']:.4f}", f"{m[f'max_{score}']:.4f}", f"{m[f'min_{score}']:.4f}",
                          f"{m['seconds']:.1f}")
        console.print(table)
        if "sharing" in result.meta:
            console.print(sharing_line(result.meta["sharing"]))
