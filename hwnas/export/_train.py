"""`hwnas train`: fine-tune (or train from scratch) an extracted subnet on a task, in its directory.

The training loop is `hwnas.training.train_subnet`; this module checks that the task fits the subnet,
measures accuracy (a detector's mAP) before and after, and writes the result back: `model.pt` and `model.onnx` (re-checked)
hold the new weights, `arch.json` says where they came from, `metrics.json` what training achieved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hwnas.artifacts import subnet_dir as fmt
from hwnas.artifacts.subnet_load import build_module, load_subnet, subnet_space
from hwnas.export._inputs import task_inputs
from hwnas.export._onnx import deployed_form, export_onnx
from hwnas.export._readme import readme_text
from hwnas.search_spaces import SearchSpace
from hwnas.tasks import Task, get_task
from hwnas.training import train_subnet
from hwnas.training._loop import SEQ2SEQ
from hwnas.training.decoding import evaluate_bleu
from hwnas.training.detection import space_anchors
from hwnas.training.subnet import validation_scores
from hwnas.training.tasks import TaskMismatchError, implied_task_options


def _outputs(space: SearchSpace) -> int:
    return int(space.io.outputs)  # type: ignore[arg-type]


def fitting_task(space: SearchSpace, module: nn.Module, name: str, options: dict[str, Any]) -> tuple[Task, dict[str, Any]]:
    """The task `name` built to fit the subnet (image size, vocabulary), or an error saying what does not fit."""
    options = {**implied_task_options(space, name), **options}
    task = get_task(name, **options)
    want = space.io.task_kind
    if task.kind != want:
        raise TaskMismatchError(f"task {name!r} is a {task.kind} task but this {space.name}/{space.preset} subnet "
                                f"needs a {want} task")
    outputs, what = _outputs(space), "tokens" if task.kind == "seq2seq" else "classes"
    if task.num_classes > outputs or (space.io.is_detection and task.num_classes != outputs):
        raise TaskMismatchError(f"task {name!r} has {task.num_classes} {what} but the subnet predicts {outputs}")
    try:
        with torch.no_grad():
            module.eval()(*task_inputs(space, task, 2, split="train"))
    except (RuntimeError, IndexError, ValueError) as exc:
        raise TaskMismatchError(f"task {name!r} gives inputs of shape {tuple(task.input_shape)} that do not fit the "
                                f"subnet ({space.name}/{space.preset} takes {tuple(space.default_input_shape)}): "
                                f"{str(exc).splitlines()[0]}") from None
    return task, options


def train_extracted(directory: str | Path, task_name: str, epochs: int, task_options: dict[str, Any] | None = None,
                    from_scratch: bool = False, lr: float = 2e-3, seed: int = 0, progress: bool = True,
                    warmup_steps: int = 50) -> dict[str, Any]:
    """Train the subnet in `directory` on a task and write the new weights and `metrics.json` there.

    Returns the metrics (accuracy before and after as fractions, for a detector `map`/`map50` before and
    after; epochs, seconds per epoch, history).
    Raises `ExportError` for a missing or corrupt directory, `UnknownNameError`/`TaskDataError` for a bad
    task, `TaskMismatchError` for a task that does not fit the subnet.
    """
    if epochs < 1:
        raise fmt.ExportError(f"--epochs must be at least 1, got {epochs}")
    if not lr > 0:
        raise fmt.ExportError(f"--lr must be positive, got {lr}")
    if warmup_steps < 0:
        raise fmt.ExportError(f"--warmup-steps must be at least 0, got {warmup_steps}")
    directory = Path(directory)
    space, arch, meta = subnet_space(directory)
    module = build_module(space, arch, seed) if from_scratch else load_subnet(directory)
    task, options = fitting_task(space, module, task_name, dict(task_options or {}))
    anchors = space_anchors(space) if space.io.is_detection else None
    before = validation_scores(module, task, anchors)
    bleu_before = evaluate_bleu(module, task) if task.kind == SEQ2SEQ else None
    result = train_subnet(module, task, epochs, lr=lr, seed=seed, progress=progress, anchors=anchors, warmup_steps=warmup_steps)
    bleu = {} if bleu_before is None else {"bleu_before": bleu_before, "bleu_after": evaluate_bleu(module, task)}
    names = {"val_acc": "accuracy", "val_map": "map", "val_map50": "map50"}
    scores = {f"{names[key]}_{when}": source[key] for key in before for when, source in (("before", before), ("after", result))}
    metrics = {
        "task": {"name": task_name, "options": options, "kind": task.kind, "train_samples": len(task.x_train),
                 "val_samples": len(task.x_val)},
        "from_scratch": from_scratch, "epochs": epochs, "lr": lr, "warmup_steps": warmup_steps, "seed": seed,
        **scores, **bleu, "train_loss": result["train_loss"],
        "seconds_per_epoch": result["seconds_per_epoch"], "history": result["history"],
    }
    _save(directory, module.eval(), space, task, meta, metrics)
    return metrics


def _save(directory: Path, module: nn.Module, space: SearchSpace, task: Task, meta: dict[str, Any],
          metrics: dict[str, Any]) -> None:
    """Weights, ONNX, arch.json and metrics.json, each replaced atomically (ONNX checked before anything)."""
    tmp = {name: directory / f".{name}.tmp" for name in (fmt.WEIGHTS_FILE, fmt.ONNX_FILE)}
    try:
        inputs = task_inputs(space, task, 8)
        deployed, outputs = deployed_form(space, module)
        diff = export_onnx(deployed, inputs, tmp[fmt.ONNX_FILE], outputs=outputs)
        torch.save(module.state_dict(), tmp[fmt.WEIGHTS_FILE])
        for name, path in tmp.items():
            os.replace(path, directory / name)
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    previous = None if metrics["from_scratch"] else meta["weights"]  # a chain back to the extraction
    meta["weights"] = {"from": "trained", "task": metrics["task"], "epochs": metrics["epochs"],
                       "from_scratch": metrics["from_scratch"], "previous": previous}
    meta["onnx"] = {**meta.get("onnx", {}), "max_abs_diff": diff, "checked_on": f"task {task.name!r} validation samples",
                    "batch": len(inputs[0])}
    fmt.write_json(directory / fmt.ARCH_FILE, meta)
    fmt.write_json(directory / fmt.METRICS_FILE, metrics)
    hardware_file = directory / fmt.HARDWARE_FILE
    hardware = json.loads(hardware_file.read_text()) if hardware_file.is_file() else None
    (directory / fmt.README_FILE).write_text(readme_text(meta, str(directory), hardware))
    if task.vocab is not None:
        (directory / fmt.VOCAB_FILE).write_text(json.dumps(list(task.vocab)) + "\n")
