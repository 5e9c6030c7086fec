"""Search spaces: archs, declarations, supernets and their registry.

Importing this package registers every built-in space.
"""

from hwnas.errors import InvalidArchError
from hwnas.search_spaces._arch import Arch
from hwnas.search_spaces._choices import Choice, Depth, PerLayer
from hwnas.search_spaces._ops import OpSpec
from hwnas.search_spaces._registry import all_space_presets, get_space, list_presets, list_spaces, register_space
from hwnas.search_spaces._space import SearchSpace
from hwnas.search_spaces._supernet import Supernet
from hwnas.search_spaces.bn import recalibrate_bn
from hwnas.search_spaces import emov2, lighthubert, mixed_attention, mobiledets  # noqa: E402,F401  (registers the spaces)

__all__ = [
    "Arch", "Choice", "Depth", "InvalidArchError", "OpSpec", "PerLayer", "SearchSpace", "Supernet",
    "all_space_presets", "get_space", "list_presets", "list_spaces", "recalibrate_bn", "register_space",
]
