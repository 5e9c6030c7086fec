"""`Supernet`: a network whose subnets are the archs of one space, run by weight slicing."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from torch import nn

from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BlockSpec
from hwnas.search_spaces.elastic._base import export_module

if TYPE_CHECKING:
    from hwnas.search_spaces._space import SearchSpace


class Network(nn.Module):
    """A network assembled from block specs; its forward only calls children, so extracted subnets reuse it.

    `configure(blocks)` walks the network's modules zipped with a space's block specs (supernet side only).
    """

    @abstractmethod
    def configure(self, blocks: Sequence[BlockSpec]) -> None:
        """Set every elastic part to the sizes of `blocks` (the list `SearchSpace.blocks` gives)."""

    def finish_export(self, module: nn.Module, blocks: Sequence[BlockSpec]) -> None:
        """Hook for networks that tie weights in the exported copy (e.g. shared embeddings)."""


class Supernet(nn.Module):
    """Wraps a `Network` of elastic leaves; `set_active(arch)` makes it compute exactly that subnet.

    The active subnet is explicit state set here and nowhere else. `extract(arch)` returns a plain
    module (same containers, plain leaves, copied weights) whose output equals the supernet's.
    """

    def __init__(self, space: SearchSpace, net: Network) -> None:
        super().__init__()
        self.space = space
        self.net = net
        self.active_arch: Arch = space.max_arch()
        self.net.configure(space.blocks(self.active_arch))

    def set_active(self, arch: Arch) -> None:
        """Run as `arch` from now on; raises `InvalidArchError` for an arch outside the space."""
        arch = self.space.validate(arch)
        self.net.configure(self.space.blocks(arch))
        self.active_arch = arch

    @contextmanager
    def active(self, arch: Arch) -> Iterator[Supernet]:
        """Run as `arch` inside the block, then as the previously active arch again."""
        previous = self.active_arch
        self.set_active(arch)
        try:
            yield self
        finally:
            self.set_active(previous)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.net(*inputs, **kwargs)

    def extract(self, arch: Arch | None = None) -> nn.Module:
        """A standalone copy of subnet `arch` (default: the active one), in the supernet's train/eval mode."""
        with self.active(arch or self.active_arch):
            module = export_module(self.net)
            self.net.finish_export(module, self.space.blocks(self.active_arch))
        return module.train(self.training)
