"""`Task`: train/validation tensors for one dataset, and the registry of tasks."""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import torch
from pydantic import Field, TypeAdapter, ValidationError
from torch.utils.data import DataLoader, TensorDataset

from hwnas.errors import TaskDataError, shown
from hwnas.registry import Registry

#: Option types task factories declare, so a bad value is one line naming the option (not a traceback).
Count = Annotated[int, Field(ge=1)]
Seed = Annotated[int, Field(ge=0, lt=2**32)]
Fraction = Annotated[float, Field(gt=0, lt=1)]

#: Special token ids of seq2seq tasks: padding, begin and end of sequence, unknown; content ids start at 4.
PAD, BOS, EOS, UNK = 0, 1, 2, 3
FIRST_TOKEN = 4
TASK_KINDS = ("classification", "seq2seq", "detection")


@dataclass(frozen=True)
class Task:
    """A classification, sequence-to-sequence or detection task held in memory (the built-in tasks are small).

    `kind` is "classification" (y: (N,) class ids), "seq2seq" (x: (N, S) source token ids, y: (N, T)
    target ids that start with BOS; ids follow `PAD`, `BOS`, `EOS`, `UNK`, content from `FIRST_TOKEN`;
    `num_classes` is then the vocabulary size) or "detection" (x: (N, C, H, W) images, y: (N, M, 5) boxes
    as `hwnas.tasks._boxes` packs them; `num_classes` counts object classes, no background). `vocab` holds
    the token strings of a text task (index = id) and `class_names` the label names of an image folder or
    of a detection task's classes, so predictions can be mapped back.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    kind: str = "classification"
    vocab: tuple[str, ...] | None = None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise TaskDataError(f"task {self.name!r}: kind {self.kind!r} must be one of {', '.join(TASK_KINDS)}")

    @property
    def vocab_size(self) -> int | None:
        """Token vocabulary of a seq2seq task (None for classification)."""
        return self.num_classes if self.kind == "seq2seq" else None

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
#: Task name -> the factory building it from its options (`input_shape`, `seed`, files, ...).
TASKS: Registry[TaskFactory] = Registry("task")


def register_task(name: str) -> Callable[[TaskFactory], TaskFactory]:
    """Decorator: `@register_task("digits")` makes a task factory reachable by name."""
    return TASKS.register(name)


def list_tasks(pattern: str = "*") -> list[str]:
    return TASKS.names(pattern)


def task_options(name: str) -> list[str]:
    """The options task `name` takes (e.g. `input_shape`, `vocab_size`), so callers can fit it to a space."""
    parameters = inspect.signature(TASKS.get(name)).parameters
    return [p for p in parameters if parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]


def get_task(name: str, **options: object) -> Task:
    """The task `name` built with `options` (e.g. `input_shape`, `seed`); unknown names raise."""
    factory = TASKS.get(name)
    signature = inspect.signature(factory)
    try:
        signature.bind(**options)
    except TypeError:
        known = [p for p in signature.parameters if signature.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD]
        unknown = sorted(set(options) - set(known)) if known else sorted(options)
        raise TaskDataError(f"task {name!r}: unknown option(s) {', '.join(unknown)}; options: {', '.join(known)}") from None
    _check_option_types(name, factory, options)
    return factory(**options)


def _check_option_types(name: str, factory: TaskFactory, options: dict[str, Any]) -> None:
    """Each option against its annotation in the factory (strict: `true` is no count, "abc" no seed)."""
    target = inspect.unwrap(getattr(factory, "func", factory))  # a functools.partial's function
    hints = typing.get_type_hints(target, globalns=vars(sys.modules[target.__module__]), include_extras=True)
    for key, value in options.items():
        if key not in hints or value is None:
            continue
        try:
            TypeAdapter(hints[key]).validate_python(value, strict=True)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise TaskDataError(f"task {name!r}: option {key} = {shown(value)}: {error['msg'].lower()}") from None
