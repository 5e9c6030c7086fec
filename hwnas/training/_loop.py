"""Loop pieces shared by supernet and subnet training: batches, forward per task kind, losses, accuracy.

`classification`: `model(x)` → logits (N, C) against labels y (N,).
`seq2seq`: x (N, S) source ids, y (N, T) target ids starting with BOS (pad=0, bos=1, eos=2); the model is
called `model(x, y[:, :-1])` (teacher forcing) → logits (N, T-1, V) against `y[:, 1:]`, pad positions ignored;
accuracy is token accuracy over non-pad targets.
`detection`: `model(x)` → (N, anchors, 4 + slots) against packed boxes y (N, M, 5); its loss and mAP are
in `hwnas.training.detection`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.errors import TaskMismatchError
from hwnas.search_spaces.bn import BatchNorms
from hwnas.tasks import Task

PAD = 0
SEQ2SEQ = "seq2seq"
DETECTION = "detection"


def task_kind(task: Any) -> str:
    return getattr(task, "kind", "classification")


def split_tensors(task: Any, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return (task.x_train, task.y_train) if split == "train" else (task.x_val, task.y_val)


def epoch_batches(task: Any, batch_size: int, seed: int, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The training batches of one epoch, shuffled by (seed, epoch) alone, so a resumed run sees the same ones."""
    order = torch.randperm(len(task.x_train), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        yield task.x_train[index], task.y_train[index]


def steps_per_epoch(task: Any, batch_size: int) -> int:
    return math.ceil(len(task.x_train) / batch_size)


def forward(model: nn.Module, kind: str, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits, targets, mask) with one row per prediction: (P, C) logits, (P,) targets, (P,) bool mask.
    A detector's outputs and boxes are returned as they are, with one mask entry per image."""
    if kind == DETECTION:
        return model(x), y, torch.ones(len(y), dtype=torch.bool, device=y.device)
    if kind == SEQ2SEQ:
        logits = model(x, y[:, :-1])
        targets = y[:, 1:]
        return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), targets.reshape(-1) != PAD
    logits = model(x)
    return logits, y, torch.ones_like(y, dtype=torch.bool)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits[mask], targets[mask])


def distillation(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """KL(teacher ‖ student) over the masked predictions; `teacher` is taken as given (detach it first)."""
    t = temperature
    log_p = F.log_softmax(student[mask] / t, dim=-1)
    q = F.softmax(teacher[mask] / t, dim=-1)
    return F.kl_div(log_p, q, reduction="batchmean") * t * t


def cosine_lr(base: float, step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine decay to zero; a pure function of the step, so resuming needs no scheduler state."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, task: Task, split: str = "val", batch_size: int = 256) -> float:
    """Top-1 accuracy of `model` on a split of `task`, as a fraction in [0, 1].

    Classification: share of samples whose argmax is the label. Seq2seq (`task.kind == "seq2seq"`): share
    of non-pad target tokens predicted right under teacher forcing. The model runs in eval mode (BatchNorm
    uses its running statistics, so recalibrate a supernet's subnet first); its mode is restored after.
    """
    x_all, y_all = split_tensors(task, split)
    kind, was_training = task_kind(task), model.training
    if kind == DETECTION:
        raise TaskMismatchError(f"task {getattr(task, 'name', '?')!r} is a detection task: score it by map / map50, "
                                "not accuracy")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))  # a model on a GPU is scored there
    model.eval()
    correct = total = 0
    try:
        for start in range(0, len(x_all), batch_size):
            x, y = x_all[start:start + batch_size].to(device), y_all[start:start + batch_size].to(device)
            logits, targets, mask = forward(model, kind, x, y)
            correct += int(((logits.argmax(-1) == targets) & mask).sum())
            total += int(mask.sum())
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError(f"task {getattr(task, 'name', '?')!r} has no {split} samples to score")
    return correct / total


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, BatchNorms) for m in model.modules())


def calibration_batches(task: Any, batches: int = 8, batch_size: int = 64, seed: int = 0) -> list[torch.Tensor]:
    """A fixed set of training inputs for BatchNorm recalibration (same seed, same images)."""
    order = torch.randperm(len(task.x_train), generator=torch.Generator().manual_seed(seed))[: batches * batch_size]
    return [task.x_train[order[i:i + batch_size]] for i in range(0, len(order), batch_size)]
