"""Accuracy (or a detector's mAP) of a model, and of a subnet running on its supernet's (inherited) weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from hwnas.search_spaces import Arch, Supernet, recalibrate_bn
from hwnas.training._loop import evaluate_accuracy, has_batchnorm
from hwnas.training.detection import evaluate_map


def activate_for_scoring(supernet: Supernet, arch: Arch, calibration: Sequence[torch.Tensor]) -> None:
    """Make `arch` active with BatchNorm statistics re-estimated for it on `calibration` (a fixed set of
    training inputs), since shared statistics fit no subnet exactly; spaces without BatchNorm just switch."""
    if has_batchnorm(supernet):
        recalibrate_bn(supernet, arch, calibration)
    else:
        supernet.set_active(arch)


def subnet_accuracy(supernet: Supernet, arch: Arch, task: Any, calibration: Sequence[torch.Tensor],
                    split: str = "val", batch_size: int = 256) -> float:
    """Accuracy of `arch` with the supernet's weights (`activate_for_scoring` first).
    Leaves `arch` active and the supernet's train/eval mode as it was."""
    activate_for_scoring(supernet, arch, calibration)
    return evaluate_accuracy(supernet, task, split, batch_size)


def subnet_map(supernet: Supernet, arch: Arch, task: Any, calibration: Sequence[torch.Tensor], anchors: torch.Tensor,
               split: str = "val", batch_size: int = 256) -> dict[str, float]:
    """`map` and `map50` of detector `arch` on the supernet's weights, BatchNorm re-estimated as for accuracy."""
    activate_for_scoring(supernet, arch, calibration)
    return evaluate_map(supernet, task, anchors, split, batch_size)


__all__ = ["activate_for_scoring", "evaluate_accuracy", "subnet_accuracy", "subnet_map"]
