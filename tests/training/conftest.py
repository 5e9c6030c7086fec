"""Small real tasks for training tests: the built-in tasks cut to a few hundred samples, so steps are fast."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pytest

from hwnas.training import TrainSettings, train_supernet
from hwnas.training.tasks import space_and_task

TASKS = {"mixed-attention": "mnist1d", "lighthubert": "mnist1d", "emov2": "digits", "mobiledets": "digits"}


@lru_cache(maxsize=None)
def _full(space_name: str, preset: str, task_name: str, options: tuple):
    """Tasks are immutable: build each once per session (generating MNIST-1D takes seconds)."""
    return space_and_task(space_name, preset, task_name, dict(options))


def small(space_name: str, preset: str = "tiny", task: str | None = None, n_train: int = 128, n_val: int = 64,
          **options):
    """(space, task cut to n_train/n_val samples, task options) for a space's tiny preset."""
    task_name = task or TASKS[space_name]
    if task_name == "mnist1d":
        options.setdefault("num_samples", 500)
    space, full, used = _full(space_name, preset, task_name, tuple(sorted(options.items())))
    cut = replace(full, x_train=full.x_train[:n_train], y_train=full.y_train[:n_train],
                  x_val=full.x_val[:n_val], y_val=full.y_val[:n_val])
    return space, cut, used


def _one_short_epoch(space_name: str, out: Path) -> Path:
    space, task, options = small(space_name, n_train=128)
    train_supernet(space, task, TrainSettings(epochs=1, batch_size=64, num_random=1), out,
                   task_options=options, progress=False)
    return out


@pytest.fixture(scope="session")
def trained_mobiledets(tmp_path_factory) -> Path:
    """A mobiledets/tiny supernet trained for one short epoch on digits (BatchNorm space)."""
    return _one_short_epoch("mobiledets", tmp_path_factory.mktemp("sn") / "mobiledets")


@pytest.fixture(scope="session")
def trained_vit(tmp_path_factory) -> Path:
    """A mixed-attention/tiny supernet trained for one short epoch on MNIST-1D."""
    return _one_short_epoch("mixed-attention", tmp_path_factory.mktemp("sn") / "vit")
