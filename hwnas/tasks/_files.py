"""Helpers shared by the user-data tasks: path checks and a seeded train/validation split."""

from __future__ import annotations

from pathlib import Path

import torch

from hwnas.tasks._task import TaskDataError


def existing(path: str | Path, what: str, task: str, directory: bool = False) -> Path:
    """`path` as a Path, or a one-line error naming the task and what was expected there."""
    if path is None or str(path) == "":
        raise TaskDataError(f"{task}: option for the {what} is required")
    result = Path(path).expanduser()
    if directory and not result.is_dir():
        raise TaskDataError(f"{task}: {what} {str(result)!r} is not a directory")
    if not directory and not result.is_file():
        raise TaskDataError(f"{task}: {what} {str(result)!r} not found")
    return result


def split_index(n: int, val_fraction: float, seed: int, task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded permutation cut into train and validation indices, each non-empty."""
    if not 0 < val_fraction < 1:
        raise TaskDataError(f"{task}: val_fraction must be in (0, 1), got {val_fraction}")
    if n < 2:
        raise TaskDataError(f"{task}: need at least 2 samples to split into train and validation, got {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = max(1, min(n - 1, int(round((1 - val_fraction) * n))))
    return order[:cut], order[cut:]
