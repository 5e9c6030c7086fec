"""Detection pieces: SSD anchors, box coding, matching, NMS, COCO mAP, and a detector that learns."""

from __future__ import annotations

import math

import pytest
import torch

from hwnas.search_spaces import get_space
from hwnas.search_spaces._anchors import ssd_anchors
from hwnas.tasks import get_task
from hwnas.tasks._boxes import pack_targets
from hwnas.training import train_subnet
from hwnas.training.detection import (
    BOX_CODE,
    DetectionLoss,
    anchor_corners,
    box_iou,
    coco_map,
    decode,
    detect,
    encode,
    evaluate_map,
    match,
    nms,
    space_anchors,
)


@pytest.fixture(scope="module")
def shapes():
    return get_task("shapes-detection", num_samples=64, val_fraction=0.5)


@pytest.fixture(scope="module")
def anchors():
    return space_anchors(get_space("mobiledets", "tiny-detection"))


def test_anchors_follow_the_ssdlite_layout():
    published = space_anchors(get_space("mobiledets", "ssdlite-coco"))
    assert published.shape == (2034, 4)  # 20²·3 + (10² + 5² + 3² + 2² + 1²)·6
    first = published[:3]  # the lowest map's first cell: scale 0.1 (square), then 0.2 at aspect ratios 2 and ½
    assert torch.allclose(first[:, :2], torch.tensor([0.025, 0.025]).expand(3, 2))
    assert torch.allclose(first[:, 2:], torch.tensor([[0.1, 0.1], [0.2 / math.sqrt(2), 0.2 * math.sqrt(2)],
                                                      [0.2 * math.sqrt(2), 0.2 / math.sqrt(2)]]))
    last_cell = published[-6:]  # the 1×1 map: scale 0.95 at five aspect ratios, then √(0.95·1) square
    assert torch.allclose(last_cell[:, :2], torch.tensor(0.5))
    assert last_cell[-1, 2].item() == pytest.approx(math.sqrt(0.95))
    assert len(ssd_anchors([(4, 4), (2, 2), (1, 1), (1, 1)])) == 84


def test_encoding_inverts_and_every_box_gets_an_anchor(shapes, anchors):
    y = shapes.y_train[:16]
    index, positive = match(y, anchors)
    matched = torch.gather(y, 1, index[..., None].expand(-1, -1, 5))[..., 1:5]
    assert torch.allclose(decode(encode(matched, anchors), anchors), matched, atol=1e-5)
    objects = (y[..., 0] >= 0).sum()
    assert int(positive.sum()) >= int(objects), "each box is matched to at least its best anchor"
    iou = box_iou(y[..., 1:5], anchor_corners(anchors))
    strong = (iou >= 0.5) & (y[..., 0:1] >= 0)
    assert positive[strong.any(dim=1)].all(), "an anchor with IoU ≥ 0.5 to some box is positive"
    covered = {(b, int(index[b, a])) for b, a in positive.nonzero().tolist()}
    assert covered == {(b, m) for b, m in (y[..., 0] >= 0).nonzero().tolist()}


def test_nms_suppresses_overlaps_of_one_class_only():
    boxes = torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.12, 0.1, 0.52, 0.5], [0.6, 0.6, 0.9, 0.9]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.tensor([0, 0, 1, 0])
    assert nms(boxes, scores, labels).tolist() == [0, 2, 3]
    assert nms(boxes, scores, labels, limit=2).tolist() == [0, 2]
    assert nms(boxes, scores, torch.zeros(4, dtype=torch.long), iou=0.99).tolist() == [0, 1, 3]  # 2 is 1 again


def _oracle(y: torch.Tensor, anchors: torch.Tensor, slots: int) -> torch.Tensor:
    """Outputs that say exactly what the labels say: each matched anchor's box and class, nothing elsewhere."""
    index, positive = match(y, anchors)
    matched = torch.gather(y, 1, index[..., None].expand(-1, -1, 5))
    logits = torch.full((*positive.shape, slots), -12.0)
    logits[positive, matched[positive][:, 0].long() + 1] = 12.0
    return torch.cat([encode(matched[..., 1:5], anchors), logits], dim=-1)


def test_map_is_one_for_the_labels_themselves_and_lower_for_shifted_boxes(shapes, anchors):
    y, classes = shapes.y_val, shapes.num_classes
    oracle = _oracle(y, anchors, classes + 1)
    assert coco_map(detect(oracle, anchors), y, classes, (64, 64)) == {"map": pytest.approx(1.0), "map50": pytest.approx(1.0)}
    shifted = oracle.clone()
    shifted[..., 1] += 1.5  # every box moved sideways by 15 % of its anchor's width
    worse = coco_map(detect(shifted, anchors), y, classes, (64, 64))
    assert worse["map"] < 0.9 and worse["map50"] <= 1.0
    wrong_class = torch.cat([oracle[..., :BOX_CODE + 1], oracle[..., BOX_CODE + 1:].roll(1, dims=-1)], dim=-1)
    assert coco_map(detect(wrong_class, anchors), y, classes, (64, 64))["map"] == pytest.approx(0.0, abs=1e-6)
    empty = torch.full_like(oracle, -12.0)
    assert coco_map(detect(empty, anchors), y, classes, (64, 64)) == {"map": 0.0, "map50": 0.0}


def test_loss_is_lowest_for_the_oracle_and_distillation_of_itself_is_minimal(shapes, anchors):
    y = shapes.y_train[:8]
    loss = DetectionLoss(anchors)
    oracle = _oracle(y, anchors, shapes.num_classes + 1)
    noisy = oracle + torch.randn(oracle.shape, generator=torch.Generator().manual_seed(0))
    assert float(loss(oracle, y)) < 0.01 < float(loss(noisy, y))
    teacher = noisy.detach()
    assert float(loss.distillation(teacher, teacher)) < float(loss.distillation(oracle, teacher))


def test_a_detector_learns_the_shapes(shapes, anchors):
    torch.manual_seed(0)
    space = get_space("mobiledets", "tiny-detection")
    model = space.build_supernet().extract(space.min_arch())
    assert evaluate_map(model, shapes, anchors, split="train")["map50"] < 0.02
    result = train_subnet(model, shapes, 12, lr=5e-3, batch_size=16, progress=False, anchors=anchors, warmup_steps=5,
                          weight_decay=0.0)
    losses = [r["loss"] for r in result["history"]]
    assert losses[-1] < 0.5 * losses[0]
    assert evaluate_map(model, shapes, anchors, split="train")["map50"] > 0.05
    assert set(result) >= {"val_map", "val_map50"} and "val_acc" not in result


def test_detection_needs_anchors_and_refuses_accuracy(shapes):
    space = get_space("mobiledets", "tiny-detection")
    model = space.build_supernet().extract(space.min_arch())
    with pytest.raises(ValueError, match="anchors"):
        train_subnet(model, shapes, 1, progress=False)
    with pytest.raises(ValueError, match="not a detector"):
        space_anchors(get_space("mobiledets", "tiny"))
    assert pack_targets([], min_rows=2).shape == (0, 2, 5)
