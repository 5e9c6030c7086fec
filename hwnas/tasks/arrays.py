"""`npy`: the user's arrays, `x.npy` and `y.npy` in a folder (optionally `x_val.npy`/`y_val.npy`).

A 1-D `y` makes a classification task (x: float features of any shape, y: class ids); a 2-D `y` makes a
seq2seq task (x and y: token ids following the `Task` convention). Arrays are read with
`allow_pickle=False`: object arrays are refused, never unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hwnas.tasks._files import existing, split_index
from hwnas.tasks._task import FIRST_TOKEN, Count, Fraction, Seed, Task, TaskDataError, register_task

NAME = "npy"


def _array(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise TaskDataError(f"{NAME}: {str(path)!r} is not a plain numeric .npy array ({exc})") from None
    except OSError as exc:
        raise TaskDataError(f"{NAME}: cannot read {str(path)!r}: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise TaskDataError(f"{NAME}: {str(path)!r} must hold a numeric array, got dtype {getattr(array, 'dtype', '?')}")
    if array.ndim == 0 or len(array) == 0:
        raise TaskDataError(f"{NAME}: {str(path)!r} is empty")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise TaskDataError(f"{NAME}: {str(path)!r} holds NaN or infinite values")
    return array


def _pair(x_path: Path, y_path: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = _array(x_path), _array(y_path)
    if len(x) != len(y):
        raise TaskDataError(f"{NAME}: {x_path.name} has {len(x)} samples but {y_path.name} has {len(y)}")
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        raise TaskDataError(f"{NAME}: {str(y_path)!r} must hold integer labels or token ids, got fractions")
    if y.min() < 0:
        raise TaskDataError(f"{NAME}: {str(y_path)!r} holds a negative label or token id ({int(y.min())})")
    if y.ndim not in (1, 2):
        raise TaskDataError(f"{NAME}: {str(y_path)!r} must be 1-D (class ids) or 2-D (target token ids), got shape {y.shape}")
    return x, y


@register_task(NAME)
def npy(path: str | None = None, val_fraction: Fraction = 0.2, seed: Seed = 0, num_classes: Count | None = None) -> Task:
    """Arrays from the folder `path`; validation from `x_val.npy`/`y_val.npy` there, or a seeded split.

    `num_classes` (classes, or the vocabulary of a seq2seq task) defaults to the largest id + 1.
    """
    root = existing(path, "array folder (path)", NAME, directory=True)
    x, y = _pair(existing(root / "x.npy", "file", NAME), existing(root / "y.npy", "file", NAME))
    has_val = [(root / f).is_file() for f in ("x_val.npy", "y_val.npy")]
    if any(has_val) and not all(has_val):
        raise TaskDataError(f"{NAME}: {str(root)!r} has only one of x_val.npy and y_val.npy; give both or neither")
    if all(has_val):
        x_val, y_val = _pair(root / "x_val.npy", root / "y_val.npy")
        if x_val.shape[1:] != x.shape[1:] or y_val.ndim != y.ndim:
            raise TaskDataError(f"{NAME}: validation arrays {x_val.shape}/{y_val.shape} do not match training {x.shape}/{y.shape}")
    else:
        train, val = (i.numpy() for i in split_index(len(x), val_fraction, seed, NAME))
        x, y, x_val, y_val = x[train], y[train], x[val], y[val]
    seq2seq = y.ndim == 2
    if seq2seq and x.dtype.kind == "f":
        raise TaskDataError(f"{NAME}: a 2-D y.npy makes a seq2seq task, whose x.npy must hold integer token ids")
    largest = int(max(y.max(), y_val.max(), *((x.max(), x_val.max()) if seq2seq else ())))
    size = largest + 1 if num_classes is None else num_classes
    if size <= largest:
        raise TaskDataError(f"{NAME}: num_classes={num_classes} but the data holds id {largest}")
    if seq2seq:
        size = max(size, FIRST_TOKEN + 1)
    x_dtype = torch.long if seq2seq else torch.float32
    return Task(NAME, torch.as_tensor(x, dtype=x_dtype), torch.as_tensor(y, dtype=torch.long),
                torch.as_tensor(x_val, dtype=x_dtype), torch.as_tensor(y_val, dtype=torch.long),
                num_classes=size, kind="seq2seq" if seq2seq else "classification")
