"""`Task`: train/validation tensors for one dataset, and the registry of tasks."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, TensorDataset

from hwnas.errors import UnknownNameError


@dataclass(frozen=True)
class Task:
    """A classification or sequence task held in memory (the built-in tasks are small)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def batch(self, size: int, split: str = "train", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed random batch (same seed, same samples), e.g. for zero-cost proxies."""
        x, y = (self.x_train, self.y_train) if split == "train" else (self.x_val, self.y_val)
        index = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:size]
        return x[index], y[index]

    def loaders(self, batch_size: int = 64, seed: int = 0) -> tuple[DataLoader, DataLoader]:
        generator = torch.Generator().manual_seed(seed)
        train = DataLoader(TensorDataset(self.x_train, self.y_train), batch_size, shuffle=True, generator=generator)
        return train, DataLoader(TensorDataset(self.x_val, self.y_val), batch_size)


TaskFactory = Callable[..., Task]
_TASKS: dict[str, TaskFactory] = {}


def register_task(name: str) -> Callable[[TaskFactory], TaskFactory]:
    def decorate(factory: TaskFactory) -> TaskFactory:
        _TASKS[name] = factory
        return factory

    return decorate


def list_tasks(pattern: str = "*") -> list[str]:
    return sorted(n for n in _TASKS if fnmatch.fnmatch(n, pattern))


def get_task(name: str, **options: object) -> Task:
    """The task `name` built with `options` (e.g. `input_shape`, `seed`); unknown names raise."""
    if name not in _TASKS:
        raise UnknownNameError("task", name, _TASKS)
    return _TASKS[name](**options)
