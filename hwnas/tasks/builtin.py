"""Built-in tasks: MNIST-1D (procedurally generated), scikit-learn's digits, and synthetic data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from hwnas.tasks._task import Count, Seed, Task, TaskDataError, register_task


@register_task("mnist1d")
def mnist1d(num_samples: Count = 4000, seed: Seed = 42, input_shape: Sequence[int] | None = None) -> Task:
    """MNIST-1D: 10 classes of length-40 signals, generated on the fly by the `mnist1d` package."""
    from mnist1d.data import get_dataset_args, make_dataset  # only this task's data needs it

    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    data = make_dataset(args)
    x_train, x_val = (torch.as_tensor(np.asarray(data[k]), dtype=torch.float32) for k in ("x", "x_test"))
    y_train, y_val = (torch.as_tensor(np.asarray(data[k]), dtype=torch.long) for k in ("y", "y_test"))
    return Task("mnist1d", x_train, y_train, x_val, y_val, num_classes=10)


@register_task("digits")
def digits(input_shape: Sequence[int] = (3, 32, 32), seed: Seed = 0) -> Task:
    """scikit-learn's 8×8 digits, resized to `input_shape` (channels replicated); 80/20 split."""
    from sklearn.datasets import load_digits  # heavy (scikit-learn, ~0.5 s): only this task's data needs it

    raw = load_digits()
    images = torch.as_tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if len(tuple(input_shape)) != 3 or tuple(input_shape)[0] not in (1, 3):
        raise TaskDataError(f"digits: input_shape must be (channels 1 or 3, height, width), got {list(input_shape)}")
    channels, height, width = input_shape
    images = F.interpolate(images, size=(height, width), mode="bilinear", align_corners=False).repeat(1, channels, 1, 1)
    images = (images - images.mean()) / images.std()
    labels = torch.as_tensor(raw.target, dtype=torch.long)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(order))
    return Task("digits", images[order[:cut]], labels[order[:cut]], images[order[cut:]], labels[order[cut:]], num_classes=10)


@register_task("synthetic")
def synthetic(input_shape: Sequence[int] = (40,), num_samples: Count = 512, num_classes: Count = 10, seed: Seed = 0,
              vocab_size: Count | None = None) -> Task:
    """Random inputs of any shape (tokens when `vocab_size` is given) with random labels.

    Only for signals that ignore labels (zero-cost proxies, latency); never for accuracy.
    """
    generator = torch.Generator().manual_seed(seed)
    shape = (num_samples, *input_shape)
    if vocab_size is not None:
        x = torch.randint(4, vocab_size, shape, generator=generator)
    else:
        x = torch.randn(shape, generator=generator)
    y = torch.randint(0, num_classes, (num_samples,), generator=generator)
    cut = int(0.8 * num_samples)
    return Task("synthetic", x[:cut], y[:cut], x[cut:], y[cut:], num_classes=num_classes)
