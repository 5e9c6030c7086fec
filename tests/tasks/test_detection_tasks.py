"""Detection tasks: generated shapes with exact boxes, and the user's COCO-format files with one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hwnas.tasks import TaskDataError, get_task
from hwnas.tasks._boxes import unpack_targets
from hwnas.tasks.shapes import SHAPES


def test_shapes_are_seeded_and_their_boxes_are_exact():
    task = get_task("shapes-detection", num_samples=40, input_shape=[3, 48, 48], seed=3)
    again = get_task("shapes-detection", num_samples=40, input_shape=[3, 48, 48], seed=3)
    assert torch.equal(task.x_train, again.x_train) and torch.equal(task.y_train, again.y_train)
    assert not torch.equal(task.x_train[:8], get_task("shapes-detection", num_samples=40, input_shape=[3, 48, 48],
                                                      seed=4).x_train[:8])
    assert task.kind == "detection" and task.num_classes == len(SHAPES) and task.class_names == SHAPES
    assert task.x_train.shape == (40, 3, 48, 48) and task.x_val.shape == (8, 3, 48, 48)
    for labels, boxes in unpack_targets(task.y_train):
        assert 1 <= len(labels) <= 4 and set(labels.tolist()) <= set(range(len(SHAPES)))
        assert ((boxes[:, 2:] > boxes[:, :2]) & (boxes >= 0).all(1, keepdim=True) & (boxes <= 1).all(1, keepdim=True)).all()
        pixels = boxes * 48
        assert torch.equal(pixels, pixels.round()), "boxes are whole pixels: the shape's own extent"
        sides = (pixels[:, 2:] - pixels[:, :2]).max(dim=1).values
        assert ((sides >= 0.12 * 48 - 2) & (sides <= 0.45 * 48 + 2)).all()


def test_shapes_differ_from_their_background_inside_the_box():
    task = get_task("shapes-detection", num_samples=20, input_shape=[3, 32, 32])
    image, (_, boxes) = task.x_train[0], unpack_targets(task.y_train[:1])[0]
    x1, y1, x2, y2 = (boxes[0] * 32).long().tolist()
    inside, border = image[:, y1:y2, x1:x2], image[:, y1, x1:x2]
    assert inside.std() > 0.1 and border.numel() > 0


def _coco(tmp_path, sizes=((40, 30),), boxes=(((2, 3, 10, 12), 7),), **changes):
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    entries = []
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(np.full((h, w, 3), 40 * i % 255, dtype=np.uint8)).save(folder / f"{i}.png")
        entries.append({"id": i + 1, "file_name": f"{i}.png", "width": w, "height": h})
    annotations = [{"id": j + 1, "image_id": 1, "category_id": cat, "bbox": list(box)} for j, (box, cat) in enumerate(boxes)]
    data = {"images": entries, "annotations": annotations, "categories": [{"id": 7, "name": "cat"}, {"id": 3, "name": "dog"}]}
    data.update(changes)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path, folder


def test_coco_files_become_normalised_boxes_with_categories_in_id_order(tmp_path):
    path, folder = _coco(tmp_path, sizes=((40, 30), (40, 30), (20, 20)),
                         boxes=(((2, 3, 10, 12), 7), ((0, 0, 40, 30), 3)))
    task = get_task("coco", path=str(path), images=str(folder), input_shape=[3, 16, 16], val_fraction=0.34)
    assert task.kind == "detection" and task.class_names == ("dog", "cat") and task.num_classes == 2
    assert len(task.x_train) + len(task.x_val) == 3 and task.x_train.shape[1:] == (3, 16, 16)
    every = torch.cat([task.y_train, task.y_val])
    found = sorted(tuple(round(v, 4) for v in row.tolist()) for row in every.reshape(-1, 5) if row[0] >= 0)
    assert found == [(0.0, 0.0, 0.0, 1.0, 1.0), (1.0, 0.05, 0.1, 0.3, 0.5)]


@pytest.mark.parametrize(("change", "message"), [
    ({"images": None}, "missing key 'images'"),
    ({"annotations": [{"id": 1, "image_id": 1, "bbox": [1, 1, 2, 2]}]}, "annotations[0] has no category_id"),
    ({"annotations": [{"id": 5, "image_id": 1, "category_id": 7, "bbox": [30, 3, 20, 5]}]}, "lies outside the 40×30 image"),
    ({"annotations": [{"id": 5, "image_id": 1, "category_id": 7, "bbox": [3, 3, 0, 5]}]}, "has no area"),
    ({"annotations": [{"id": 5, "image_id": 9, "category_id": 7, "bbox": [3, 3, 2, 5]}]}, "unknown image 9"),
    ({"annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [3, 3, 2, 5]}]}, "unknown category 1"),
    ({"images": [{"id": 1, "file_name": "0.png", "width": 41, "height": 30}]}, "is 40×30, but"),
    ({"images": [{"id": 1, "file_name": "gone.png", "width": 40, "height": 30}]}, "not found"),
    ({"images": [{"id": [1], "file_name": "0.png", "width": 40, "height": 30}]}, "images[0].id must be an integer"),
    ({"images": [{"id": 1, "file_name": "0.png", "width": 40, "height": 30}] * 2}, "image ids repeat"),
    ({"annotations": [{"id": 5, "image_id": 1, "category_id": "7", "bbox": [3, 3, 2, 5]}]}, "category_id must be an integer"),
    ({"annotations": [{"id": 5, "image_id": 1, "category_id": 7, "bbox": [40.5, 3, 0.4, 5]}]}, "no area inside"),
    ({"annotations": [{"id": 5, "image_id": 1, "category_id": 7, "bbox": "3 3 2 5"}]}, "bbox must be [x, y, width, height]"),
])
def test_bad_coco_files_are_one_line(tmp_path, change, message):
    path, folder = _coco(tmp_path, **change)
    with pytest.raises(TaskDataError, match="coco: ") as error:
        get_task("coco", path=str(path), images=str(folder))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_an_image_that_does_not_open_and_a_file_that_is_no_json(tmp_path):
    path, folder = _coco(tmp_path)
    (folder / "0.png").write_bytes(b"not a png")
    with pytest.raises(TaskDataError, match="cannot read image"):
        get_task("coco", path=str(path), images=str(folder))
    path.write_text("{ nope")
    with pytest.raises(TaskDataError, match="is not a JSON file"):
        get_task("coco", path=str(path))
