"""`Supernet`: a network whose subnets are the archs of one space, run by weight slicing."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from torch import nn

from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces.elastic._base import export_module

if TYPE_CHECKING:
    from hwnas.search_spaces._space import SearchSpace


class Supernet(nn.Module):
    """Wraps a network of elastic leaves; `set_active(arch)` makes it compute exactly that subnet.

    The active subnet is explicit state set here and nowhere else. `extract(arch)` returns a plain
    module (same containers, plain leaves, copied weights) whose output equals the supernet's.
    """

    def __init__(self, space: SearchSpace, net: nn.Module) -> None:
        super().__init__()
        self.space = space
        self.net = net
        self.active_arch: Arch = space.max_arch()
        self._configure(self.active_arch)

    @abstractmethod
    def _configure(self, arch: Arch) -> None:
        """Set every elastic leaf of `self.net` to the sizes `arch` asks for (arch already validated)."""

    def set_active(self, arch: Arch) -> None:
        """Run as `arch` from now on; raises `InvalidArchError` for an arch outside the space."""
        arch = self.space.validate(arch)
        self._configure(arch)
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
            self._finish_export(module)
        return module.train(self.training)

    def _finish_export(self, module: nn.Module) -> None:
        """Hook for spaces that tie weights in the exported module (e.g. shared embeddings)."""
