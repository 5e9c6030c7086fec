"""Search spaces: archs, declarations, choice spaces, supernets and their registry.

Importing this package registers every built-in space.
"""

from hwnas.errors import InvalidArchError
from hwnas.search_spaces import emov2, lighthubert, mixed_attention, mobiledets  # noqa: E402,F401  (registers the spaces)
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
from hwnas.search_spaces._supernet import Network, Supernet
from hwnas.search_spaces.bn import recalibrate_bn

__all__ = [
    "SPACES", "Arch", "BlockSpec", "BuildableSpec", "Choice", "ChoiceSpace", "Depth", "InvalidArchError", "Network",
    "OpSpec", "PerLayer", "SearchSpace", "SpaceIO", "Supernet", "all_space_presets", "get_space", "list_presets",
    "list_spaces", "recalibrate_bn", "register_space", "space_class",
]
