"""SSD anchor boxes, laid out as the TF Object Detection API's `ssd_anchor_generator` lays them out.

Feature map k of n has scale s_k = min_scale + (max_scale − min_scale)·k/(n − 1). On the lowest map
(`reduce_boxes_in_lowest_layer`) each cell has three boxes: scale 0.1 at aspect ratio 1 and s_0 at 2 and
½; on every other map one box per aspect ratio at s_k, then one at √(s_k·s_{k+1}) (s_n = 1) with aspect
ratio 1. A box of scale s and aspect ratio a is s·√a wide and s/√a high; centres sit at (i + ½)/size.
Boxes are (cy, cx, h, w) in image fractions, in the order a head's output rows come: map by map, row by
row, column by column, box by box.

Plain Python (no torch): a detector's anchors are part of its description, like its ops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: The published SSDLite configuration (ssdlite_mobiledet_*_320x320_coco configs).
MIN_SCALE, MAX_SCALE = 0.2, 0.95
ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 0.3333)
LOWEST_LAYER_SCALE = 0.1

Anchor = tuple[float, float, float, float]


def boxes_per_cell(num_maps: int, aspect_ratios: Sequence[float] = ASPECT_RATIOS) -> tuple[int, ...]:
    """Anchors per cell of each map: 3 on the lowest, one per aspect ratio plus one interpolated elsewhere."""
    return (3,) + (len(aspect_ratios) + 1,) * (num_maps - 1)


def _cell_boxes(index: int, num_maps: int, aspect_ratios: Sequence[float]) -> list[tuple[float, float]]:
    """(scale, aspect ratio) of each box of one cell of map `index`."""
    scales = [MIN_SCALE + (MAX_SCALE - MIN_SCALE) * k / (num_maps - 1) for k in range(num_maps)] + [1.0]
    if index == 0:
        return [(LOWEST_LAYER_SCALE, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
    return [(scales[index], a) for a in aspect_ratios] + [(math.sqrt(scales[index] * scales[index + 1]), 1.0)]


def ssd_anchors(map_sizes: Sequence[tuple[int, int]], aspect_ratios: Sequence[float] = ASPECT_RATIOS) -> list[Anchor]:
    """All anchors of feature maps of `map_sizes` ((height, width) each, lowest first)."""
    if len(map_sizes) < 2:
        raise ValueError(f"SSD anchors need at least 2 feature maps, got {len(map_sizes)}")
    anchors: list[Anchor] = []
    for index, (rows, cols) in enumerate(map_sizes):
        shapes = [(s / math.sqrt(a), s * math.sqrt(a)) for s, a in _cell_boxes(index, len(map_sizes), aspect_ratios)]
        for i in range(rows):
            for j in range(cols):
                anchors += [((i + 0.5) / rows, (j + 0.5) / cols, h, w) for h, w in shapes]
    return anchors
