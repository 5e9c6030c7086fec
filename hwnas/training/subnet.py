"""Plain training of a standalone module (an extracted subnet): the stand-alone accuracy a supernet's
inherited accuracy is compared with, and the last step before deploying a searched subnet."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from hwnas.tasks import Task
from hwnas.training import _loop
from hwnas.training._progress import TrainingProgress
from hwnas.training.detection import DetectionLoss, evaluate_map


def validation_scores(module: nn.Module, task: Task, anchors: torch.Tensor | None = None) -> dict[str, float]:
    """`val_acc` (token accuracy for seq2seq), or a detector's `val_map` and `val_map50` (needs its anchors)."""
    if _loop.task_kind(task) != _loop.DETECTION:
        return {"val_acc": _loop.evaluate_accuracy(module, task)}
    if anchors is None:
        raise ValueError(f"task {task.name!r} is a detection task: give the detector's anchors")
    return {f"val_{key}": value for key, value in evaluate_map(module, task, anchors).items()}


def train_subnet(module: nn.Module, task: Task, epochs: int, lr: float = 2e-3, seed: int = 0, progress: bool = True,
                 batch_size: int = 64, weight_decay: float = 0.05, warmup_steps: int = 50,
                 grad_clip: float = 1.0, anchors: torch.Tensor | None = None) -> dict[str, Any]:
    """Train `module` in place on `task` (AdamW, warm-up + cosine schedule, labels only).

    Returns the last epoch's `validation_scores` (`val_acc`, or `val_map`/`val_map50` for a detector,
    whose `anchors` it needs) with `train_loss`, `epochs`, `seconds_per_epoch` and `history` (per-epoch
    records); scores are fractions in [0, 1]. The module is left in eval mode.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1 and lr > 0; got {epochs}, {batch_size}, {lr}")
    kind = _loop.task_kind(task)
    detection = None
    if kind == _loop.DETECTION:
        if anchors is None:
            raise ValueError(f"task {task.name!r} is a detection task: give the detector's anchors")
        detection = DetectionLoss(anchors)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    steps = _loop.steps_per_epoch(task, batch_size)
    total = epochs * steps
    history: list[dict[str, Any]] = []
    with TrainingProgress(total, enabled=progress) as bar:
        for epoch in range(epochs):
            module.train()
            start, losses = time.perf_counter(), []
            for i, (x, y) in enumerate(_loop.epoch_batches(task, batch_size, seed, epoch)):
                _loop.set_lr(optimizer, _loop.cosine_lr(lr, epoch * steps + i, total, warmup_steps))
                optimizer.zero_grad(set_to_none=True)
                logits, targets, mask = _loop.forward(module, kind, x, y)
                loss = _loop.cross_entropy(logits, targets, mask) if detection is None else detection(logits, targets)
                loss.backward()
                if grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
                optimizer.step()
                losses.append(loss.item())
                bar.advance(epoch + 1, epochs, loss=losses[-1])
            seconds = time.perf_counter() - start
            record = {"epoch": epoch + 1, "loss": sum(losses) / len(losses), "seconds": seconds,
                      **validation_scores(module, task, anchors)}
            bar.epoch_done(record)
            history.append(record)
    module.eval()
    scores = {key: value for key, value in history[-1].items() if key.startswith("val_")}
    return {**scores, "train_loss": history[-1]["loss"], "epochs": epochs,
            "seconds_per_epoch": sum(r["seconds"] for r in history) / epochs, "history": history}
