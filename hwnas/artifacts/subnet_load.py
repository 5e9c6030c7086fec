"""Loading an extracted subnet: rebuild the module from `arch.json`, then its weights from `model.pt`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from hwnas.artifacts._files import load_tensors
from hwnas.artifacts.subnet_dir import WEIGHTS_FILE, read_arch_json
from hwnas.errors import ExportError, HwnasError
from hwnas.search_spaces import Arch, SearchSpace, get_space


def subnet_space(directory: str | Path) -> tuple[SearchSpace, Arch, dict[str, Any]]:
    """(space, arch, arch.json content) of a subnet directory; the arch is validated against the space."""
    meta = read_arch_json(directory)
    path = Path(directory) / "arch.json"
    try:
        space = get_space(meta["space"], meta["preset"], **meta["space_options"])
    except (HwnasError, TypeError) as exc:
        raise ExportError(f"{path}: cannot rebuild space {meta['space']!r}/{meta['preset']!r}: {exc}") from None
    return space, space.validate(meta["arch"]), meta


def build_module(space: SearchSpace, arch: Arch, seed: int | None = None) -> nn.Module:
    """A standalone module of `arch` with the supernet's initial weights (seeded when `seed` is given)."""
    if seed is not None:
        torch.manual_seed(seed)
    return space.build_supernet().extract(arch).eval()


def load_subnet(directory: str | Path) -> nn.Module:
    """The subnet saved in `directory` (by `hwnas extract` or `hwnas train`) as a plain module in eval mode.

    Raises `ExportError` for a missing or corrupt directory or weights that do not fit the architecture,
    `InvalidArchError` when arch.json's arch is not a point of its space.
    """
    space, arch, _ = subnet_space(directory)
    module = build_module(space, arch)
    path = Path(directory) / WEIGHTS_FILE
    state = load_tensors(path, ExportError, "weights")
    if not isinstance(state, dict):
        raise ExportError(f"{path}: must hold a state_dict, got {type(state).__name__}")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ExportError(f"{path}: weights do not fit {space.name}/{space.preset} arch {arch.id} "
                          f"({str(exc).splitlines()[0]})") from None
    return module.eval()
