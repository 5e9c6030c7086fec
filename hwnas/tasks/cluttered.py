"""`cluttered-digits`: scikit-learn's digits made hard enough that a subnet's size shows in its accuracy.

Each image places one digit, rotated (±15°), scaled (55-90 % of the side) and shifted at random, on a
textured background (a random colour, a sinusoidal grating) with fragments of other digits as clutter and
pixel noise, in colour. Training images are drawn from 80 % of the source digits, validation images from
the other 20 %, so validation digits were never seen in any pose. On plain `digits` the largest and the
smallest tiny subnets score the same; here capacity matters (`benchmarks/accuracy.py` reports the gap).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from hwnas.tasks._files import normalise_images
from hwnas.tasks._task import Count, Seed, Task, TaskDataError, register_task

NAME = "cluttered-digits"
FRAGMENTS, FRAGMENT_SIZE = 2, 0.3  # clutter: other digits, at most this share of the side


def _place(sources: torch.Tensor, size: int, scale: tuple[float, float], rotate: float,
           generator: torch.Generator) -> torch.Tensor:
    """Each of `sources` (N, 1, 8, 8) rendered at (N, 1, size, size) under its own random rotation, scale, shift."""
    count = len(sources)
    angle = (torch.rand(count, generator=generator) * 2 - 1) * math.radians(rotate)
    zoom = scale[0] + torch.rand(count, generator=generator) * (scale[1] - scale[0])
    shift = (torch.rand(count, 2, generator=generator) * 2 - 1) * (1 - zoom)[:, None]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # output → source coordinates
    theta = torch.stack([torch.stack([cos, -sin, -(cos * shift[:, 0] - sin * shift[:, 1])], 1),
                         torch.stack([sin, cos, -(sin * shift[:, 0] + cos * shift[:, 1])], 1)], 1)
    grid = F.affine_grid(theta, [count, 1, size, size], align_corners=False)
    return F.grid_sample(sources, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _images(digits: torch.Tensor, labels: torch.Tensor, count: int, shape: Sequence[int],
            seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    channels, height, width = shape
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(digits), (count,), generator=generator)
    size = height
    digit = _place(digits[pick][:, None], size, (0.55, 0.9), 15, generator)[:, 0]
    clutter = torch.zeros(count, size, size)
    for _ in range(FRAGMENTS):  # another digit, small, at any angle and anywhere
        others = digits[torch.randint(len(digits), (count,), generator=generator)][:, None]
        clutter = torch.maximum(clutter, 0.8 * _place(others, size, (FRAGMENT_SIZE * 0.6, FRAGMENT_SIZE), 180, generator)[:, 0])
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    angle = torch.rand(count, 1, 1, generator=generator) * math.pi
    frequency = 0.2 + torch.rand(count, 1, 1, generator=generator) * 0.8
    grating = 0.1 * torch.sin(frequency * (xx * torch.cos(angle) + yy * torch.sin(angle)))
    base = torch.rand(count, 3, 1, 1, generator=generator) * 0.6 + 0.2
    ink = (1 - base + (torch.rand(count, 3, 1, 1, generator=generator) - 0.5) * 0.3).clamp(0, 1)  # contrasting ink
    strokes = torch.maximum(digit, clutter)[:, None]
    images = (base + grating[:, None]) * (1 - strokes) + ink * strokes
    images = images + 0.04 * torch.randn(count, 3, size, size, generator=generator)
    images = images.clamp(0, 1)
    if channels == 1:
        images = images.mean(dim=1, keepdim=True)
    if width != height:
        images = F.interpolate(images, size=(height, width), mode="bilinear", align_corners=False)
    return images, labels[pick]


@register_task(NAME)
def cluttered_digits(num_samples: Count = 6000, input_shape: Sequence[int] = (3, 32, 32), seed: Seed = 0,
                     val_samples: Count | None = None) -> Task:
    """`num_samples` training images and `val_samples` validation ones (default: a quarter as many) of held-apart
    source digits. The training images do not depend on `val_samples`: a larger validation set scores a supernet
    trained with the default one, and tells close subnets apart more surely (1,500 images resolve about a point)."""
    from sklearn.datasets import load_digits  # heavy (scikit-learn, ~0.5 s): only this task's data needs it

    shape = tuple(input_shape)
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape[1:]) < 16:
        raise TaskDataError(f"{NAME}: input_shape must be (1 or 3 channels, height ≥ 16, width ≥ 16), got {list(input_shape)}")
    raw = load_digits()
    digits = torch.as_tensor(raw.images, dtype=torch.float32) / 16.0
    labels = torch.as_tensor(raw.target, dtype=torch.long)
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(order))
    train, val = order[:cut], order[cut:]
    x, y = _images(digits[train], labels[train], num_samples, shape, seed * 2 + 1)
    x_val, y_val = _images(digits[val], labels[val], val_samples or max(1, num_samples // 4), shape, seed * 2 + 2)
    x, x_val = normalise_images(x, x_val)
    return Task(NAME, x, y, x_val, y_val, num_classes=10)
