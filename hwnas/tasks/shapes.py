"""`shapes-detection`: generated detection images, no downloads.

Each image has a textured background (a random colour, a sinusoidal grating of random frequency and
direction, pixel noise) and one to `max_objects` shapes (square, circle, triangle, cross) of random colour,
size and position that do not overlap, so every box is exact: the extent of the shape's own pixels.
Sizes run from `min_size` to `max_size` of the image side; the smallest are below the lowest SSDLite
map's stride at 64×64, so a small detector loses them first. Train and validation images come from
separate seeded streams; the same options give the same images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hwnas.tasks._boxes import pack_targets
from hwnas.tasks._files import normalise_images
from hwnas.tasks._task import Count, Fraction, Seed, Task, TaskDataError, register_task

NAME = "shapes-detection"
SHAPES = ("square", "circle", "triangle", "cross")
PLACEMENT_TRIES = 30
MIN_CONTRAST = 0.3


def _mask(shape: str, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, size: float) -> np.ndarray:
    """Pixels (by their centres) covered by `shape` of side `size` centred at (cx, cy)."""
    dx, dy, half = xx - cx, yy - cy, size / 2
    if shape == "square":
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    if shape == "circle":
        return dx * dx + dy * dy <= half * half
    if shape == "triangle":  # apex up, base at the bottom
        return (dy <= half) & (np.abs(dx) <= (dy + half) / 2)
    bar = size / 6  # cross: two bars a third of the side thick
    return ((np.abs(dx) <= bar) & (np.abs(dy) <= half)) | ((np.abs(dy) <= bar) & (np.abs(dx) <= half))


def _background(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    base = rng.uniform(0.2, 0.8, size=3)
    angle, frequency, phase = rng.uniform(0, np.pi), rng.uniform(0.05, 0.4), rng.uniform(0, 2 * np.pi)
    grating = 0.12 * np.sin(frequency * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
    tint = rng.uniform(-1, 1, size=3)
    return np.clip(base[:, None, None] + tint[:, None, None] * grating[None], 0, 1), base


def _colour(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    while True:
        colour = rng.uniform(0, 1, size=3)
        if np.abs(colour - base).mean() >= MIN_CONTRAST:
            return colour


def _overlaps(box: np.ndarray, placed: list[np.ndarray]) -> bool:
    return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed)


def _image(rng: np.random.Generator, shape: Sequence[int], max_objects: int,
           sizes: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    channels, height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5  # pixel centres
    image, base = _background(rng, xx, yy)
    side = min(height, width)
    placed: list[np.ndarray] = []
    objects = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _ in range(PLACEMENT_TRIES):
            label = int(rng.integers(len(SHAPES)))
            size = rng.uniform(*sizes) * side
            cx, cy = rng.uniform(size / 2, width - size / 2), rng.uniform(size / 2, height - size / 2)
            mask = _mask(SHAPES[label], xx, yy, cx, cy, size)
            rows, cols = np.nonzero(mask)
            if len(rows) < 4:
                continue
            box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float32)
            if _overlaps(box, placed):
                continue
            image[:, mask] = _colour(rng, base)[:, None]
            placed.append(box)
            objects.append([label, box[0] / width, box[1] / height, box[2] / width, box[3] / height])
            break
    image = np.clip(image + rng.normal(0, 0.04, size=image.shape), 0, 1)
    if channels == 1:
        image = image.mean(axis=0, keepdims=True)
    return image.astype(np.float32), np.asarray(objects, dtype=np.float32).reshape(-1, 5)


def _images(count: int, seed: int, shape: Sequence[int], max_objects: int,
            sizes: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    pairs = [_image(rng, shape, max_objects, sizes) for _ in range(count)]
    return torch.as_tensor(np.stack([p[0] for p in pairs])), pack_targets([p[1] for p in pairs], max_objects)


@register_task(NAME)
def shapes_detection(num_samples: Count = 3000, input_shape: Sequence[int] = (3, 64, 64), max_objects: Count = 4,
                     min_size: Fraction = 0.12, max_size: Fraction = 0.45, val_fraction: Fraction = 0.2,
                     seed: Seed = 0) -> Task:
    """`num_samples` training images and `val_fraction` as many validation images of `input_shape`."""
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape[1:]) < 16:
        raise TaskDataError(f"{NAME}: input_shape must be (1 or 3 channels, height ≥ 16, width ≥ 16), got {list(input_shape)}")
    if not min_size < max_size:
        raise TaskDataError(f"{NAME}: min_size {min_size} must be below max_size {max_size}")
    sizes = (min_size, max_size)
    x_train, y_train = _images(num_samples, seed * 2 + 1, input_shape, max_objects, sizes)
    x_val, y_val = _images(max(1, round(num_samples * val_fraction)), seed * 2 + 2, input_shape, max_objects, sizes)
    x_train, x_val = normalise_images(x_train, x_val)
    return Task(NAME, x_train, y_train, x_val, y_val, num_classes=len(SHAPES), kind="detection", class_names=SHAPES)
