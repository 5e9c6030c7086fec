"""Helpers shared by the tasks: path checks, class folders, a seeded train/validation split, image standardising."""

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


def class_folders(root: Path, task: str) -> list[str]:
    """The class names of a folder-per-class dataset (its visible subfolders, sorted), at least two."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise TaskDataError(f"{task}: {str(root)!r} needs at least 2 class subfolders, found {len(classes)}")
    return classes


def class_files(root: Path, classes: list[str], suffixes: tuple[str, ...], task: str, what: str) -> list[tuple[int, Path]]:
    """(class id, file) of every file with one of `suffixes` under `root/<class>/`; a missing or empty class
    folder is one line naming it (`what` says what the files are: images, audio)."""
    found = []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise TaskDataError(f"{task}: {str(root)!r} has no subfolder for class {name!r} (classes: {', '.join(classes)})")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
        if not files:
            raise TaskDataError(f"{task}: class folder {str(folder)!r} holds no {what} ({', '.join(suffixes)})")
        found += [(label, path) for path in files]
    return found


def normalise_images(train: torch.Tensor, val: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both splits standardised with the training images' per-channel mean and standard deviation."""
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return (train - mean) / std, (val - mean) / std
