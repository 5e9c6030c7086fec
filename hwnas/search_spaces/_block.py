"""`BlockSpec`: the active sizes of one block of a network, the unit every consumer of a space walks.

A space maps an `Arch` onto a list of block specs once (`SearchSpace.blocks`). Building the supernet
(from the largest arch's list), activating a subnet (`module.configure(spec)` for each block), the op
list (`spec.ops()`), phone block tables and export all walk that list, so a space spells its structure
out once. Specs are frozen dataclasses beside the module they describe; fields that only the supernet
needs (the options a slot offers, e.g. its kernel sizes) are part of the spec so `build()` needs nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from hwnas.search_spaces._ops import OpSpec

if TYPE_CHECKING:
    from torch import nn

HW = tuple[int, int]


class BlockSpec(ABC):
    """One block at its active sizes (and, for 2-D blocks, its input size `hw`)."""

    @abstractmethod
    def ops(self) -> list[OpSpec]:
        """The operators one sample passes through in this block (batch 1)."""


class BuildableSpec(BlockSpec):
    """A block that is one module of the network: `build()` makes the supernet module whose largest
    configuration is this spec, and that module's `configure(spec)` activates any spec of the same slot."""

    @abstractmethod
    def build(self) -> nn.Module:
        """A freshly initialised supernet module for this block's slot."""
