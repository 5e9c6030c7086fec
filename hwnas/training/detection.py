"""Detection with an SSD head: anchors matched to boxes, the loss, decoding, NMS and COCO mAP.

The recipe is the published SSDLite MobileDets one (TF Object Detection API configs): boxes encoded
against their anchors as (ty, tx, th, tw) with scales 10, 10, 5, 5; an anchor matches the box it overlaps
most when the IoU is ≥ 0.5, and every box also gets its best anchor; sigmoid focal loss (α 0.75, γ 2) over
all class slots, background (slot 0) encoded as zeros; smooth-L1 on the matched anchors' encodings divided
by the code size; both summed and divided by the number of matches. Post-processing: sigmoid scores
without the background slot, class-wise NMS at IoU 0.6, at most 100 detections per image. mAP@[.5:.95]
and mAP@.5 come from pycocotools' COCOeval, as fractions in [0, 1].

The output of a detector is one (batch, anchors, 4 + 1 + classes) tensor (`SSDLiteHead`); anchors are
the space's (`space_anchors`), the same for every subnet.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces import SearchSpace
from hwnas.tasks._boxes import unpack_targets
from hwnas.training._loop import split_tensors

BOX_SCALES = (10.0, 10.0, 5.0, 5.0)
MATCH_IOU = 0.5
FOCAL_ALPHA, FOCAL_GAMMA = 0.75, 2.0
SCORE_THRESHOLD, NMS_IOU, MAX_DETECTIONS = 0.01, 0.6, 100
#: Highest-scoring (box, class) pairs per image that reach NMS: bounds its cost on 2,034 × 90 outputs.
NMS_CANDIDATES = 1000
BOX_CODE = 4


def space_anchors(space: SearchSpace) -> torch.Tensor:
    """(anchors, 4) (cy, cx, h, w) of a detection space's head, in image fractions."""
    if not space.io.is_detection:
        raise ValueError(f"{space.label} is not a detector (its preset's task is {space.io.task_kind})")
    head = space.blocks(space.max_arch())[-1]
    return torch.tensor(head.anchor_boxes(), dtype=torch.float32)  # type: ignore[attr-defined]


def anchor_corners(anchors: torch.Tensor) -> torch.Tensor:
    cy, cx, h, w = anchors.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of corner boxes (x1, y1, x2, y2): (..., n, 4) × (m, 4) or (..., m, 4) → (..., n, m)."""
    lo = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    hi = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (hi - lo).clamp_min(0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp_min(0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp_min(0).prod(-1)
    return inter / (area_a[..., :, None] + area_b[..., None, :] - inter).clamp_min(1e-12)


def encode(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Corner boxes (..., A, 4) → (ty, tx, th, tw) against anchors (A, 4)."""
    cy, cx = (boxes[..., 1] + boxes[..., 3]) / 2, (boxes[..., 0] + boxes[..., 2]) / 2
    h, w = (boxes[..., 3] - boxes[..., 1]).clamp_min(1e-6), (boxes[..., 2] - boxes[..., 0]).clamp_min(1e-6)
    acy, acx, ah, aw = anchors.unbind(-1)
    sy, sx, sh, sw = BOX_SCALES
    return torch.stack([sy * (cy - acy) / ah, sx * (cx - acx) / aw, sh * torch.log(h / ah), sw * torch.log(w / aw)], dim=-1)


def decode(codes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """(ty, tx, th, tw) (..., A, 4) → corner boxes clipped to the image."""
    acy, acx, ah, aw = anchors.unbind(-1)
    sy, sx, sh, sw = BOX_SCALES
    cy, cx = codes[..., 0] / sy * ah + acy, codes[..., 1] / sx * aw + acx
    h, w = torch.exp(codes[..., 2] / sh) * ah, torch.exp(codes[..., 3] / sw) * aw
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1).clamp(0, 1)


def match(y: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For packed targets y (B, M, 5): (index of each anchor's box (B, A), positive mask (B, A))."""
    valid = y[..., 0] >= 0
    iou = box_iou(y[..., 1:5], anchor_corners(anchors))  # (B, M, A)
    iou = torch.where(valid[..., None], iou, torch.full_like(iou, -1.0))
    best_iou, index = iou.max(dim=1)
    positive = best_iou >= MATCH_IOU
    best_anchor = iou.argmax(dim=2)  # (B, M): every box also gets the anchor it overlaps most
    rows = torch.arange(len(y), device=y.device)
    for m in range(y.shape[1]):
        chosen = rows[valid[:, m]]
        index[chosen, best_anchor[chosen, m]] = m
        positive[chosen, best_anchor[chosen, m]] = True
    return index, positive


class DetectionLoss:
    """The SSD loss of one detection space (its anchors), on labels or on a teacher's outputs."""

    def __init__(self, anchors: torch.Tensor) -> None:
        self.anchors = anchors

    def to(self, device: torch.device) -> DetectionLoss:
        self.anchors = self.anchors.to(device)
        return self

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Focal + smooth-L1 loss of outputs (B, A, 4 + slots) against packed targets y (B, M, 5)."""
        index, positive = match(y, self.anchors)
        matched = torch.gather(y, 1, index[..., None].expand(-1, -1, 5))  # (B, A, 5)
        slots = outputs.shape[-1] - BOX_CODE
        labels = torch.zeros_like(outputs[..., BOX_CODE:])
        labels[positive] = F.one_hot(matched[positive][:, 0].long() + 1, slots).to(labels.dtype)
        matches = positive.sum().clamp_min(1)
        classification = _focal(outputs[..., BOX_CODE:], labels).sum()
        codes = encode(matched[..., 1:5], self.anchors)
        localisation = F.smooth_l1_loss(outputs[..., :BOX_CODE][positive], codes[positive], reduction="sum", beta=1.0)
        return (classification + localisation / BOX_CODE) / matches

    def distillation(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """Student outputs towards a teacher's (detached): class slots by a focal-weighted BCE to the
        teacher's probabilities (quality focal loss), box encodings by smooth-L1 weighted by how sure the
        teacher is that an anchor holds an object; both divided by that total sureness, as matches are."""
        target = torch.sigmoid(teacher[..., BOX_CODE:])
        logits = student[..., BOX_CODE:]
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        classification = ((torch.sigmoid(logits) - target).abs().pow(FOCAL_GAMMA) * bce).sum()
        sure = target[..., 1:].max(dim=-1).values
        weight = sure.sum().clamp_min(1.0)
        boxes = F.smooth_l1_loss(student[..., :BOX_CODE], teacher[..., :BOX_CODE], reduction="none", beta=1.0).sum(-1)
        return (classification + (sure * boxes).sum() / BOX_CODE) / weight


def _focal(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    p_t = p * labels + (1 - p) * (1 - labels)
    alpha_t = FOCAL_ALPHA * labels + (1 - FOCAL_ALPHA) * (1 - labels)
    return alpha_t * (1 - p_t).pow(FOCAL_GAMMA) * ce


def boxes_and_scores(outputs: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoded corner boxes (B, A, 4) and per-class sigmoid scores (B, A, classes), before NMS."""
    return decode(outputs[..., :BOX_CODE], anchors), torch.sigmoid(outputs[..., BOX_CODE + 1:])


class DecodedDetector(nn.Module):
    """A detector whose outputs are boxes and scores (what a deployment runs NMS on): the ONNX form."""

    def __init__(self, detector: nn.Module, anchors: torch.Tensor) -> None:
        super().__init__()
        self.detector = detector
        self.register_buffer("anchors", anchors.clone(), persistent=False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return boxes_and_scores(self.detector(images), self.anchors)


def nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou: float = NMS_IOU,
        limit: int = MAX_DETECTIONS) -> torch.Tensor:
    """Indices kept by greedy class-wise non-maximum suppression, best first, at most `limit`."""
    order = scores.argsort(descending=True)
    overlap = box_iou(boxes[order], boxes[order])
    same_class = labels[order][:, None] == labels[order][None, :]
    suppresses = ((overlap > iou) & same_class).cpu().numpy()  # numpy: the loop below runs per kept box
    alive = np.ones(len(order), dtype=bool)
    kept: list[int] = []
    while len(kept) < limit and alive.any():
        i = int(alive.argmax())
        kept.append(i)
        alive &= ~suppresses[i]
        alive[i] = False
    return order[torch.tensor(kept, dtype=torch.long, device=order.device)]


def detect(outputs: torch.Tensor, anchors: torch.Tensor,
           score_threshold: float = SCORE_THRESHOLD) -> list[dict[str, torch.Tensor]]:
    """Per image: `boxes` (k, 4) corners in image fractions, `scores` (k,), `labels` (k,) after NMS."""
    all_boxes, all_scores = boxes_and_scores(outputs, anchors)
    found = []
    for boxes, scores in zip(all_boxes, all_scores):
        flat = scores.flatten()
        candidates = (flat > score_threshold).nonzero().squeeze(1)
        candidates = candidates[flat[candidates].argsort(descending=True)[:NMS_CANDIDATES]]
        anchor, label = candidates // scores.shape[1], candidates % scores.shape[1]
        keep = nms(boxes[anchor], flat[candidates], label) if len(candidates) else candidates
        found.append({"boxes": boxes[anchor[keep]], "scores": flat[candidates[keep]], "labels": label[keep]})
    return found


def coco_map(detections: list[dict[str, torch.Tensor]], y: torch.Tensor, num_classes: int,
             image_size: tuple[int, int]) -> dict[str, float]:
    """COCO mAP@[.5:.95] (`map`) and mAP@.5 (`map50`) of `detections` against packed targets `y`,
    by pycocotools' COCOeval, boxes in pixels of `image_size` (width, height)."""
    from pycocotools.coco import COCO  # only scoring a detector needs it
    from pycocotools.cocoeval import COCOeval

    width, height = image_size
    scale = torch.tensor([width, height, width, height], dtype=torch.float32)

    def xywh(boxes: torch.Tensor) -> list[list[float]]:
        pixels = boxes.reshape(-1, 4) * scale
        return torch.cat([pixels[:, :2], pixels[:, 2:] - pixels[:, :2]], dim=1).tolist()

    images, annotations, results = [], [], []
    for image_id, ((labels, boxes), found) in enumerate(zip(unpack_targets(y), detections)):
        images.append({"id": image_id, "width": width, "height": height})
        for label, b in zip(labels.tolist(), xywh(boxes)):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": label, "bbox": b,
                                "area": b[2] * b[3], "iscrowd": 0})
        results += [{"image_id": image_id, "category_id": label, "bbox": b, "score": score}
                    for b, score, label in zip(xywh(found["boxes"]), found["scores"].tolist(), found["labels"].tolist())]
    if not annotations:
        raise ValueError("no ground-truth boxes to score detections against")
    if not results:
        return {"map": 0.0, "map50": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress and its table
        truth = COCO()
        truth.dataset = {"info": {}, "images": images, "annotations": annotations,
                         "categories": [{"id": c, "name": str(c)} for c in range(num_classes)]}
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {"map": max(0.0, float(evaluation.stats[0])), "map50": max(0.0, float(evaluation.stats[1]))}


@torch.no_grad()
def evaluate_map(model: nn.Module, task: Any, anchors: torch.Tensor, split: str = "val",
                 batch_size: int = 256) -> dict[str, float]:
    """mAP and mAP@.5 of `model` on a split of a detection task (eval mode, restored after)."""
    x_all, y_all = split_tensors(task, split)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    detections: list[dict[str, torch.Tensor]] = []
    try:
        for start in range(0, len(x_all), batch_size):
            outputs = model(x_all[start:start + batch_size].to(device)).float().cpu()
            detections += detect(outputs, anchors.cpu())
    finally:
        model.train(was_training)
    height, width = x_all.shape[-2:]
    return coco_map(detections, y_all, task.num_classes, (int(width), int(height)))
