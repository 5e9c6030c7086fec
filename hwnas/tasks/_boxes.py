"""How detection tasks hold their labels: one padded tensor of boxes per image.

`y` is (N, M, 5) float32: per image up to M objects as (class id, x1, y1, x2, y2), corners in fractions
of the image's width and height; unused rows have class id `NO_OBJECT`. A padded tensor (rather than a
list of variable-length tensors) lets detection tasks be batched, shuffled and split like the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

NO_OBJECT = -1.0


def pack_targets(objects: Sequence[np.ndarray], min_rows: int = 1) -> torch.Tensor:
    """Per-image (k, 5) arrays of (class, x1, y1, x2, y2) → one (N, M, 5) tensor padded with `NO_OBJECT` rows."""
    rows = max([min_rows, *(len(o) for o in objects)])
    packed = np.zeros((len(objects), rows, 5), dtype=np.float32)
    packed[:, :, 0] = NO_OBJECT
    for i, found in enumerate(objects):
        if len(found):
            packed[i, :len(found)] = found
    return torch.as_tensor(packed)


def unpack_targets(y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(labels (k,), boxes (k, 4)) of each image of a packed (N, M, 5) tensor, padding dropped."""
    out = []
    for rows in y:
        kept = rows[rows[:, 0] >= 0]
        out.append((kept[:, 0].long(), kept[:, 1:5]))
    return out

