"""`image-folder`: the user's images, one subfolder per class (PNG/JPEG/BMP/GIF read with Pillow).

Images are resized to the space's input shape and normalised with the training set's per-channel mean and
standard deviation, as the `digits` task is, so a subnet searched on digits can be fine-tuned on them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hwnas.tasks._files import class_files, class_folders, existing, normalise_images, split_index
from hwnas.tasks._task import Fraction, Seed, Task, TaskDataError, register_task

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
NAME = "image-folder"


def read_image(path: Path, shape: Sequence[int], task: str = NAME) -> tuple[np.ndarray, tuple[int, int]]:
    """The image at `path` resized to `shape` (C, H, W) as floats in [0, 1], and its own (width, height);
    one line naming `task` and the file when it is no image or too large to decode safely."""
    from PIL import Image, UnidentifiedImageError  # only image tasks decode images

    channels, height, width = shape
    if channels not in (1, 3):
        raise TaskDataError(f"{task}: input_shape must have 1 or 3 channels, got {list(shape)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # over Pillow's limit: refuse, don't warn
            image_file = Image.open(path)
        with image_file as image:
            size = image.size
            image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # Pillow's limit against images that decode to gigabytes
        raise TaskDataError(f"{task}: image {str(path)!r} is too large to decode safely ({str(exc).split('.')[0]})") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise TaskDataError(f"{task}: cannot read image {str(path)!r}: {str(exc)[:200]}") from None
    return (pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)), size


def _load(root: Path, classes: list[str], shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    files = class_files(root, classes, SUFFIXES, NAME, "images")
    images = np.stack([read_image(path, shape)[0] for _, path in files])
    return torch.as_tensor(images), torch.as_tensor([label for label, _ in files], dtype=torch.long)


@register_task(NAME)
def image_folder(path: str | None = None, input_shape: Sequence[int] = (3, 32, 32), val_path: str | None = None,
                 val_fraction: Fraction = 0.2, seed: Seed = 0) -> Task:
    """Images under `path/<class>/`; validation from `val_path` (same classes) or a seeded split."""
    root = existing(path, "image folder (path)", NAME, directory=True)
    if len(tuple(input_shape)) != 3:
        raise TaskDataError(f"{NAME}: input_shape must be (channels, height, width), got {list(input_shape)}")
    classes = class_folders(root, NAME)
    x, y = _load(root, classes, input_shape)
    if val_path is not None:
        val_root = existing(val_path, "validation folder (val_path)", NAME, directory=True)
        x_val, y_val = _load(val_root, classes, input_shape)
    else:
        train, val = split_index(len(x), val_fraction, seed, NAME)
        x, y, x_val, y_val = x[train], y[train], x[val], y[val]
    x, x_val = normalise_images(x, x_val)
    return Task(NAME, x, y, x_val, y_val, num_classes=len(classes), class_names=tuple(classes))
