"""BatchNorm recalibration: re-estimate running statistics for one subnet of a supernet.

All subnets share one set of BatchNorm buffers, updated by whichever subnets ran in training, so the
statistics fit none of them exactly; evaluating a subnet with them misjudges its accuracy (Once-for-All,
BigNAS). A few hundred training images through the subnet, in training mode and without gradients, give
its own statistics; `Supernet.extract` then copies them into the standalone model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._supernet import Supernet
from hwnas.search_spaces.elastic.conv import ElasticBatchNorm2d

BatchNorms = (ElasticBatchNorm2d, nn.modules.batchnorm._BatchNorm)


def _inputs(batch: Any) -> tuple[torch.Tensor, ...]:
    """The model inputs of a loader batch: a tensor, or the first item of an (inputs, targets) pair."""
    if isinstance(batch, torch.Tensor):
        return (batch,)
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor):
        return (batch[0],)
    raise TypeError(f"cannot take model inputs from a batch of type {type(batch).__name__}; "
                    "yield tensors or (inputs, targets) pairs")


def recalibrate_bn(supernet: Supernet, arch: Arch, loader: Iterable[Any], max_batches: int | None = None) -> Supernet:
    """Make `arch` the active subnet and replace every BatchNorm's running statistics by its own.

    The statistics are a cumulative average over the batches of `loader` (at most `max_batches`), taken
    in training mode without gradients; afterwards the buffers hold `arch`'s statistics (other subnets'
    slices are reset too, so recalibrate again before evaluating another subnet). The supernet's mode and
    momenta are restored. Returns `supernet`.

    Raises `InvalidArchError` for an arch outside the space, `ValueError` when the supernet has no
    BatchNorm or the loader yields no batch, `TypeError` for batches that hold no input tensor.
    """
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be at least 1, got {max_batches}")
    supernet.set_active(arch)
    norms = [m for m in supernet.modules() if isinstance(m, BatchNorms)]
    if not norms:
        raise ValueError(f"space {supernet.space.name!r} has no BatchNorm to recalibrate")
    was_training, momenta = supernet.training, [m.momentum for m in norms]
    device = next(supernet.parameters()).device
    seen = 0
    try:
        supernet.eval()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        with torch.no_grad():
            for batch in loader:
                if max_batches is not None and seen >= max_batches:
                    break
                supernet(*(t.to(device) for t in _inputs(batch)))
                seen += 1
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        supernet.train(was_training)
    if not seen:
        raise ValueError("the loader yielded no batches; BatchNorm statistics were reset but not re-estimated")
    return supernet
