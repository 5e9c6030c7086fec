"""Search spaces: archs, declarations, choice spaces, supernets and their registry.

Importing this package registers every built-in space. It does not import torch: declaring, sampling and
pricing subnets never need it, so `Network`, `Supernet` and `recalibrate_bn` load on first use.
"""

from typing import Any

from hwnas.errors import InvalidArchError
from hwnas.search_spaces import emov2, fbnet, lighthubert, mixed_attention, mobiledets, ofa_mbv3  # noqa: E402,F401  (registers the spaces)
from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._block import BlockSpec, BuildableSpec
from hwnas.search_spaces._choice_space import ChoiceSpace
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._io import SpaceIO
from hwnas.search_spaces._ops import OpSpec
from hwnas.search_spaces._registry import (
    SPACES, all_space_presets, get_space, list_presets, list_spaces, register_space, space_class,
)
from hwnas.search_spaces._space import SearchSpace

__all__ = [
    "SPACES", "Arch", "BlockSpec", "BuildableSpec", "Choice", "ChoiceSpace", "Depth", "InvalidArchError", "Network",
    "OpSpec", "PerLayer", "SearchSpace", "SpaceIO", "Supernet", "all_space_presets", "get_space", "list_presets",
    "list_spaces", "recalibrate_bn", "register_space", "space_class",
]

_NEEDS_TORCH = {"Network": "hwnas.search_spaces._supernet", "Supernet": "hwnas.search_spaces._supernet",
                "recalibrate_bn": "hwnas.search_spaces.bn"}


def __getattr__(name: str) -> Any:
    if name in _NEEDS_TORCH:
        import importlib  # the names that need torch load on first use

        return getattr(importlib.import_module(_NEEDS_TORCH[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
