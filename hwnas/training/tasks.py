"""Pairing a task with a space: the task options a space implies, and the checks that they fit."""

from __future__ import annotations

from typing import Any

from hwnas.errors import TaskMismatchError
from hwnas.search_spaces import SearchSpace, get_space
from hwnas.tasks import Task, get_task, list_tasks, task_options


def _accepts(task_name: str, option: str) -> bool:
    return task_name in list_tasks() and option in task_options(task_name)


def is_seq2seq_space(space: SearchSpace) -> bool:
    return space.io.is_seq2seq


def implied_task_options(space: SearchSpace, task_name: str) -> dict[str, Any]:
    """Options that make the task's data fit the space (image size, vocabulary, sequence length)."""
    options: dict[str, Any] = {}
    if is_seq2seq_space(space):
        src_len, _ = space.default_input_shape
        if _accepts(task_name, "vocab_size"):
            options["vocab_size"] = int(space.io.vocab_size)  # type: ignore[arg-type]
        if _accepts(task_name, "length"):
            options["length"] = int(src_len)
    elif _accepts(task_name, "input_shape"):
        options["input_shape"] = list(space.default_input_shape)
    return options


def space_and_task(space_name: str, preset: str | None, task_name: str,
                   task_options: dict[str, Any] | None = None) -> tuple[SearchSpace, Task, dict[str, Any]]:
    """The space (with the task's number of classes) and the task built to fit it, plus the task options used.

    Raises `UnknownNameError` for an unknown space, preset or task and `TaskMismatchError` when the task's
    kind or input shape does not fit the space.
    """
    base = get_space(space_name, preset)
    options = {**implied_task_options(base, task_name), **(task_options or {})}
    task = get_task(task_name, **options)
    kind = getattr(task, "kind", "classification")
    if kind != base.io.task_kind:
        raise TaskMismatchError(f"task {task_name!r} is a {kind} task but {space_name}/{base.preset} needs a "
                                f"{base.io.task_kind} task")
    if kind == "seq2seq":
        vocab = int(base.io.vocab_size)  # type: ignore[arg-type]
        if task.num_classes > vocab:
            raise TaskMismatchError(f"task {task_name!r} has a vocabulary of {task.num_classes} tokens; "
                                    f"{space_name}/{base.preset} has {vocab}")
        return base, task, options
    if tuple(task.input_shape) != tuple(base.default_input_shape):
        raise TaskMismatchError(f"task {task_name!r} gives inputs of shape {tuple(task.input_shape)}; "
                                f"{space_name}/{base.preset} takes {tuple(base.default_input_shape)}")
    if base.io.num_classes is None:
        raise TaskMismatchError(f"{space_name}/{base.preset} has no classifier head; use a preset with num_classes")
    space = base if base.io.num_classes == task.num_classes else get_space(space_name, base.preset, num_classes=task.num_classes)
    return space, task, options
