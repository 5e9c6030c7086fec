"""`coco`: the user's detection data in COCO format (an annotation JSON and a folder of images).

Images are resized to the space's input shape (the fixed-shape resizer of the published SSDLite
detectors), so boxes are kept as fractions of the image. Category ids map to class ids 0..K-1 in id
order; `iscrowd` annotations are left out. Validation comes from `val_path` (same categories) or a seeded
split. Everything is checked before training starts: a missing key, a box outside its image, an
unknown image or category, an image that does not open or has another size than the JSON says is one line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnas.tasks._boxes import pack_targets
from hwnas.tasks._files import existing, normalise_images, split_index
from hwnas.tasks._task import Fraction, Seed, Task, TaskDataError, register_task
from hwnas.tasks.images import read_image

NAME = "coco"
#: A box may pass its image's border by this many pixels (rounding in exported annotations); it is clipped.
BORDER_TOLERANCE = 1.0
KEYS = {"images": ("id", "file_name", "width", "height"), "annotations": ("image_id", "category_id", "bbox"),
        "categories": ("id", "name")}
#: Fields that must be integers (COCO's ids), per section.
INTEGER_FIELDS = {"images": ("id",), "annotations": ("image_id", "category_id"), "categories": ("id",)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TaskDataError(f"{NAME}: {str(path)!r} is not a JSON file: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise TaskDataError(f"{NAME}: {str(path)!r}: the top level must be an object with images, annotations, categories")
    for section, keys in KEYS.items():
        entries = data.get(section)
        if not isinstance(entries, list):
            raise TaskDataError(f"{NAME}: {str(path)!r}: missing key {section!r} (a list)")
        for index, entry in enumerate(entries):
            missing = [k for k in keys if not isinstance(entry, dict) or k not in entry]
            if missing:
                raise TaskDataError(f"{NAME}: {str(path)!r}: {section}[{index}] has no {', '.join(missing)}")
            wrong = [k for k in INTEGER_FIELDS[section] if not _is_int(entry[k])]
            if wrong:
                raise TaskDataError(f"{NAME}: {str(path)!r}: {section}[{index}].{wrong[0]} must be an integer, "
                                    f"got {entry[wrong[0]]!r}")
            if section == "images" and not isinstance(entry["file_name"], str):
                raise TaskDataError(f"{NAME}: {str(path)!r}: images[{index}].file_name must be a string")
            if section == "annotations" and entry.get("iscrowd", 0) not in (0, 1):
                raise TaskDataError(f"{NAME}: {str(path)!r}: annotations[{index}].iscrowd must be 0 or 1")
    ids = [image["id"] for image in data["images"]]
    if len(set(ids)) != len(ids):
        raise TaskDataError(f"{NAME}: {str(path)!r}: image ids repeat")
    if not data["images"]:
        raise TaskDataError(f"{NAME}: {str(path)!r} lists no images")
    if not data["categories"]:
        raise TaskDataError(f"{NAME}: {str(path)!r} lists no categories")
    return data


def _categories(data: dict[str, Any]) -> list[tuple[Any, str]]:
    return sorted(((c["id"], str(c["name"])) for c in data["categories"]), key=lambda c: c[0])


def _box(annotation: dict[str, Any], image: dict[str, Any], path: Path) -> list[float] | None:
    """(x1, y1, x2, y2) in fractions of the image, or None for a crowd region."""
    where = f"{NAME}: {str(path)!r}: annotation {annotation.get('id', '?')} (image {image['id']})"
    bbox = annotation["bbox"]
    numbers = isinstance(bbox, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
    if not (numbers and len(bbox) == 4):
        raise TaskDataError(f"{where}: bbox must be [x, y, width, height] numbers, got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    width, height = float(image["width"]), float(image["height"])
    if not (w > 0 and h > 0):
        raise TaskDataError(f"{where}: bbox {bbox} has no area")
    tol = BORDER_TOLERANCE
    if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
        raise TaskDataError(f"{where}: bbox {bbox} lies outside the {width:g}×{height:g} image")
    if annotation.get("iscrowd", 0):
        return None
    x1, y1, x2, y2 = max(0.0, x), max(0.0, y), min(width, x + w), min(height, y + h)
    if not (x2 > x1 and y2 > y1):
        raise TaskDataError(f"{where}: bbox {bbox} has no area inside the {width:g}×{height:g} image")
    return [x1 / width, y1 / height, x2 / width, y2 / height]


def _load(data: dict[str, Any], path: Path, images_dir: Path, shape: Sequence[int],
          categories: list[tuple[Any, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and packed boxes of one annotation file's `data` (read from `path`)."""
    if _categories(data) != categories:
        raise TaskDataError(f"{NAME}: {str(path)!r} has other categories than the training file")
    label = {cid: index for index, (cid, _) in enumerate(categories)}
    images = {}
    for image in data["images"]:
        if not all(_is_int(image[k]) and image[k] > 0 for k in ("width", "height")):
            raise TaskDataError(f"{NAME}: {str(path)!r}: image {image['id']} has width/height "
                                f"{image['width']!r}×{image['height']!r}")
        images[image["id"]] = image
    objects: dict[Any, list[list[float]]] = {image_id: [] for image_id in images}
    for annotation in data["annotations"]:
        image = images.get(annotation["image_id"])
        if image is None:
            raise TaskDataError(f"{NAME}: {str(path)!r}: annotation {annotation.get('id', '?')} names unknown image "
                                f"{annotation['image_id']!r}")
        if annotation["category_id"] not in label:
            raise TaskDataError(f"{NAME}: {str(path)!r}: annotation {annotation.get('id', '?')} names unknown category "
                                f"{annotation['category_id']!r}")
        box = _box(annotation, image, path)
        if box is not None:
            objects[image["id"]].append([label[annotation["category_id"]], *box])
    pixels = []
    for image_id, image in images.items():
        file = images_dir / str(image["file_name"])
        if not file.is_file():
            raise TaskDataError(f"{NAME}: image {str(file)!r} (image {image_id}) not found")
        array, size = read_image(file, shape, NAME)
        if size != (image["width"], image["height"]):
            raise TaskDataError(f"{NAME}: image {str(file)!r} is {size[0]}×{size[1]}, but {str(path)!r} says "
                                f"{image['width']}×{image['height']}")
        pixels.append(array)
    targets = pack_targets([np.asarray(objects[i], dtype=np.float32).reshape(-1, 5) for i in images])
    return torch.as_tensor(np.stack(pixels)), targets


@register_task(NAME)
def coco(path: str | None = None, images: str | None = None, val_path: str | None = None, val_images: str | None = None,
         input_shape: Sequence[int] = (3, 64, 64), val_fraction: Fraction = 0.2, seed: Seed = 0) -> Task:
    """Annotations `path` with images under `images` (default: the JSON's folder); validation from
    `val_path` (images under `val_images`, default its folder) or a seeded split."""
    annotations = existing(path, "annotation JSON (path)", NAME)
    if len(tuple(input_shape)) != 3:
        raise TaskDataError(f"{NAME}: input_shape must be (channels, height, width), got {list(input_shape)}")
    images_dir = existing(images or annotations.parent, "image folder (images)", NAME, directory=True)
    data = _read_json(annotations)
    categories = _categories(data)
    if len({cid for cid, _ in categories}) != len(categories):
        raise TaskDataError(f"{NAME}: {str(annotations)!r}: category ids repeat")
    x, y = _load(data, annotations, images_dir, input_shape, categories)
    if val_path is not None:
        val_file = existing(val_path, "validation JSON (val_path)", NAME)
        val_dir = existing(val_images or val_file.parent, "validation image folder (val_images)", NAME, directory=True)
        x_val, y_val = _load(_read_json(val_file), val_file, val_dir, input_shape, categories)
    else:
        train, val = split_index(len(x), val_fraction, seed, NAME)
        x, y, x_val, y_val = x[train], y[train], x[val], y[val]
    rows = max(y.shape[1], y_val.shape[1])
    y, y_val = (torch.cat([t, torch.full((len(t), rows - t.shape[1], 5), -1.0)], dim=1) for t in (y, y_val))
    x, x_val = normalise_images(x, x_val)
    return Task(NAME, x, y, x_val, y_val, num_classes=len(categories), kind="detection",
                class_names=tuple(name for _, name in categories))
