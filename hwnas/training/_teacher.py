"""Distillation from a trained teacher (LightHuBERT's second stage): its logits and last hidden state.

The teacher is the largest subnet of a trained supernet directory (`hwnas train-supernet --out`), extracted
into a plain module with BatchNorm recalibrated for it, or a subnet directory from `hwnas extract`/`hwnas train`. Each student subnet is pulled towards the teacher's
logits (KL) and towards its last hidden state, the input of the classifier: a subnet of width d is matched
to the teacher's first d features, the channels weight sharing gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.artifacts import load_subnet, read_arch_json
from hwnas.search_spaces import recalibrate_bn
from hwnas.training._loop import calibration_batches, distillation, forward, has_batchnorm
from hwnas.training.checkpoint import CheckpointError, load_supernet


def feature_module(model: nn.Module) -> nn.Module | None:
    """The classifier layer whose input is the model's last hidden state (None for seq2seq models)."""
    modules = dict(model.named_modules())
    for name in ("net.head.fc", "head.fc", "net.head", "head"):
        module = modules.get(name)
        if module is not None and isinstance(getattr(module, "weight", None), torch.Tensor):
            return module
    return None


class HiddenCapture:
    """Records the input of the classifier layer on each forward (the last hidden state)."""

    def __init__(self, model: nn.Module) -> None:
        self.value: torch.Tensor | None = None
        module = feature_module(model)
        self._hook = None if module is None else module.register_forward_hook(self._record)

    def _record(self, _module: nn.Module, inputs: tuple, _output: Any) -> None:
        self.value = inputs[0]

    def close(self) -> None:
        if self._hook is not None:
            self._hook.remove()


@dataclass
class Teacher:
    """A frozen model whose logits and hidden state a student is distilled towards."""

    model: nn.Module
    path: Path
    hidden_weight: float = 1.0

    def __post_init__(self) -> None:
        self.model.eval().requires_grad_(False)
        self._capture = HiddenCapture(self.model)

    @torch.no_grad()
    def targets(self, x: torch.Tensor, y: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, _, _ = forward(self.model, kind, x, y)
        return logits, self._capture.value

    def loss(self, student_logits: torch.Tensor, student_hidden: torch.Tensor | None, mask: torch.Tensor,
             teacher_logits: torch.Tensor, teacher_hidden: torch.Tensor | None) -> torch.Tensor:
        loss = distillation(student_logits, teacher_logits, mask)
        if student_hidden is not None and teacher_hidden is not None and self.hidden_weight > 0:
            width = student_hidden.shape[-1]
            if width <= teacher_hidden.shape[-1]:
                loss = loss + self.hidden_weight * F.mse_loss(student_hidden, teacher_hidden[..., :width])
        return loss


def _extracted_teacher(directory: Path, space: str, hidden_weight: float) -> Teacher:
    """A subnet directory written by `hwnas extract` / `hwnas train` (arch.json + model.pt) as the teacher."""
    meta = read_arch_json(directory)
    if meta["space"] != space:
        raise CheckpointError(f"--teacher: {directory / 'arch.json'}: space is {meta['space']!r}, expected {space!r}")
    return Teacher(load_subnet(directory), directory, hidden_weight)


def load_teacher(directory: str | Path, space: str, task: Any, hidden_weight: float = 1.0) -> Teacher:
    """A teacher for a supernet of `space`: the largest subnet of the trained supernet in `directory`, or the
    subnet of an extracted-model directory (`arch.json`).

    Raises `CheckpointError` when the directory is neither or is of another space.
    """
    if (Path(directory) / "arch.json").is_file() and not (Path(directory) / "supernet.json").is_file():
        return _extracted_teacher(Path(directory), space, hidden_weight)
    try:
        loaded = load_supernet(directory, space=space)
    except CheckpointError as exc:
        raise CheckpointError(f"--teacher: {exc}") from None
    supernet, arch = loaded.supernet, loaded.space.max_arch()
    if has_batchnorm(supernet):
        recalibrate_bn(supernet, arch, calibration_batches(task))
    return Teacher(supernet.eval().extract(arch), Path(directory), hidden_weight)
