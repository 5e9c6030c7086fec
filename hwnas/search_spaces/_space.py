"""`SearchSpace`: a choice space whose points are subnets of one weight-sharing supernet.

A paper space subclasses it with its declaration, presets, named architectures and one mapping,
`blocks(arch)`, from an arch to its block specs; the supernet, the op list and every block table are
derived from that list (STYLE rule 4). The choice algebra is `ChoiceSpace`'s.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BlockSpec
from hwnas.search_spaces._choice_space import ChoiceSpace, RngLike, as_rng
from hwnas.search_spaces._choices import Declaration
from hwnas.search_spaces._io import SpaceIO

if TYPE_CHECKING:
    import torch

    from hwnas.search_spaces._ops import OpSpec
    from hwnas.search_spaces._supernet import Supernet

__all__ = ["RngLike", "SearchSpace", "as_rng"]


class SearchSpace(ChoiceSpace):
    """A weight-sharing design space: its choices, its typed I/O and the supernet its subnets live in."""

    #: Preset name -> the preset's configuration (choices and fixed sizes), declared by each space.
    presets: dict[str, Any] = {}
    default_preset: str = ""
    #: The preset's configuration (see `preset_config`); read only inside `hwnas.search_spaces`.
    config: dict[str, Any]
    #: What the preset's networks take and give; other packages read this, never `config`.
    io: SpaceIO

    def __init__(self, preset: str, declaration: Sequence[Declaration], named_archs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.preset = preset
        super().__init__(declaration, named_archs)

    @property
    def label(self) -> str:
        return f"{self.name}/{self.preset}"

    @classmethod
    def preset_config(cls, preset: str, num_classes: int | None = None, **overrides: Any) -> dict[str, Any]:
        """A copy of `preset`'s configuration with the given options applied (None leaves a default)."""
        config = dict(cls.presets[preset])
        if num_classes is not None:
            if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
                raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
            config["num_classes"] = num_classes
        config.update({key: value for key, value in overrides.items() if value is not None})
        return config

    # -- the one structure, written once per space --------------------------------------------
    @abstractmethod
    def blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BlockSpec]:
        """The block specs of `arch` at `input_shape` (default: the preset's), in forward order.

        Raises `InvalidArchError` for an arch outside the space.
        """

    @abstractmethod
    def build_supernet(self) -> Supernet:
        """A freshly initialised supernet whose subnets are exactly this space's archs."""

    def ops(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[OpSpec]:
        """The operators one sample passes through (batch 1), for predictors and cost models."""
        return [op for block in self.blocks(arch, input_shape) for op in block.ops()]

    # -- what a latency is --------------------------------------------------------------------------
    #: How the preset defines a subnet's inference, when it is not one forward pass of one sample (a translation
    #: preset may define it as a decode); None: the forward pass, which is what hwnas measures on a device.
    latency_workload: str | None = None

    def latency_blocks(self, arch: Arch, input_shape: Sequence[int] | None = None) -> list[BlockSpec]:
        """The blocks a latency prices: `blocks(arch)`, unless `latency_workload` defines inference otherwise."""
        return self.blocks(arch, input_shape)

    # -- inputs -----------------------------------------------------------------------------------
    @property
    def default_input_shape(self) -> tuple[int, ...]:
        """Per-sample input shape used when `input_shape` is not given (e.g. (3, 32, 32), (40,))."""
        return self.io.input_shape

    def _shape(self, input_shape: Sequence[int] | None) -> tuple[int, ...]:
        """`input_shape` (or the default) as Python ints: walks remember specs by value (`SpecMemo`), where 32.0 or a
        numpy integer would stand for 32 in every later walk; a size that is not a whole number raises `ValueError`."""
        shape = tuple(input_shape or self.default_input_shape)
        if all(type(size) is int for size in shape):
            return shape
        whole = tuple(int(size) for size in shape)
        if whole != shape:
            raise ValueError(f"input shape {list(shape)} of {self.name}/{self.preset}: sizes must be whole numbers")
        return whole

    def example_input(self, batch: int = 1, input_shape: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
        """Positional inputs of the supernet's forward, for a batch of `batch` samples (seeded)."""
        import torch  # here, not at the top: declaring, sampling and pricing subnets never needs torch

        shape = self._shape(input_shape)
        generator = torch.Generator().manual_seed(0)
        if self.io.is_seq2seq:
            src_len, tgt_len = shape
            vocab = int(self.io.vocab_size)  # type: ignore[arg-type]
            return (torch.randint(4, vocab, (batch, src_len), generator=generator),
                    torch.randint(4, vocab, (batch, tgt_len), generator=generator))
        return (torch.randn(batch, *shape, generator=generator),)
