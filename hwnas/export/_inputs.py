"""Real input batches for checks: a few samples of the task a subnet was searched or trained on.

Falls back to the space's seeded `example_input` when there is no task, the task is `synthetic` (random
data by design), or the task's data cannot be built here (its files are on another machine).
"""

from __future__ import annotations

from typing import Any

import torch

from hwnas.errors import HwnasError
from hwnas.search_spaces import SearchSpace
from hwnas.tasks import Task, get_task
from hwnas.training.tasks import implied_task_options


def is_seq2seq(space: SearchSpace) -> bool:
    return space.io.is_seq2seq


def task_inputs(space: SearchSpace, task: Task, batch: int, split: str = "val") -> tuple[torch.Tensor, ...]:
    """The model inputs of `batch` fixed samples of `task`: (x,) or, for seq2seq, (source, target[:, :-1])."""
    x, y = task.batch(batch, split=split, seed=0)
    return (x, y[:, :-1]) if is_seq2seq(space) else (x,)


def check_inputs(space: SearchSpace, task: dict[str, Any] | None, batch: int) -> tuple[tuple[torch.Tensor, ...], str]:
    """(inputs, what they are) for an export check: the task's validation samples when they fit the space."""
    if task is None or task["name"] == "synthetic":
        return space.example_input(batch), "example_input (seeded random)"

    options = {**implied_task_options(space, task["name"]), **task.get("options", {})}
    try:
        built = get_task(task["name"], **options)
    except (HwnasError, TypeError, ValueError, OSError) as exc:
        return space.example_input(batch), f"example_input (task {task['name']!r} unavailable: {exc})"
    if built.kind != space.io.task_kind:
        return space.example_input(batch), f"example_input (task {task['name']!r} is a {built.kind} task)"
    return task_inputs(space, built, batch), f"task {task['name']!r} validation samples"
