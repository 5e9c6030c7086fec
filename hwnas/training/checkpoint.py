"""The trained-supernet directory: `supernet.json` (what was trained, how, and how far) and `checkpoint.pt`.

`supernet.json` is text a person and other tools can read without torch: format version, space, preset,
space options (e.g. num_classes), task name and options, epochs done, per-epoch metrics and the training
settings. `checkpoint.pt` holds only tensors and plain values (model state_dict, optimizer state, RNG and
arch-sampler states), so it loads with `torch.load(..., weights_only=True)`: nothing is unpickled.
Metadata is checked before any tensor is touched, so a checkpoint of another space or preset is refused with
a line naming the field, not with a shape error deep inside torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hwnas.artifacts._files import load_tensors, read_description
from hwnas.errors import CheckpointError, HwnasError
from hwnas.search_spaces import SearchSpace, Supernet, get_space

FORMAT_VERSION = 1
META_FILE = "supernet.json"
CHECKPOINT_FILE = "checkpoint.pt"
_REQUIRED = ("format_version", "space", "preset", "space_options", "task", "epochs_done", "metrics", "settings")


@dataclass
class LoadedSupernet:
    """A trained supernet, ready to run subnets: its space, the supernet (weights loaded, eval mode) and meta."""

    space: SearchSpace
    supernet: Supernet
    meta: dict[str, Any]
    path: Path
    state: dict[str, Any] = field(default_factory=dict, repr=False)  # optimizer/RNG/sampler state (for resume)

    @property
    def task_name(self) -> str:
        return str(self.meta["task"]["name"])

    @property
    def task_options(self) -> dict[str, Any]:
        return dict(self.meta["task"].get("options", {}))


def space_options(space: SearchSpace) -> dict[str, Any]:
    """The options a space was built with that change its weights' shapes (stored to rebuild it)."""
    return space.io.shape_options()


def build_meta(space: SearchSpace, task_name: str, task_options: dict[str, Any], settings: dict[str, Any],
               epochs_done: int = 0, metrics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The `supernet.json` content for a supernet of `space` trained on a task."""
    return {
        "format_version": FORMAT_VERSION, "kind": "supernet",
        "space": space.name, "preset": space.preset, "space_options": space_options(space),
        "task": {"name": task_name, "options": dict(task_options)},
        "epochs_done": epochs_done, "metrics": list(metrics or []), "settings": dict(settings),
    }


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_supernet(directory: str | Path, supernet: Supernet, meta: dict[str, Any],
                  state: dict[str, Any] | None = None) -> Path:
    """Write `checkpoint.pt` (weights + `state`) then `supernet.json`, each atomically; returns the directory.

    `state` holds what resuming needs besides the weights (optimizer state, RNG states, sampler state),
    tensors and plain values only. The JSON is written last, so its `epochs_done` never runs ahead of the weights.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, "model": supernet.state_dict(), **(state or {})}
    _write_atomic(directory / CHECKPOINT_FILE, lambda p: torch.save(payload, p))
    _write_atomic(directory / META_FILE, lambda p: p.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n"))
    return directory


def read_meta(directory: str | Path) -> dict[str, Any]:
    """`supernet.json` of `directory`, checked for completeness and format version."""
    meta = read_description(directory, META_FILE, _REQUIRED, FORMAT_VERSION, CheckpointError, "a trained supernet",
                            "train one with `hwnas train-supernet`")
    path = Path(directory) / META_FILE
    if not isinstance(meta["task"], dict) or "name" not in meta["task"]:
        raise CheckpointError(f"{path}: field 'task' must be an object with a 'name'")
    return meta


def check_identity(meta: dict[str, Any], directory: str | Path, space: str | None, preset: str | None) -> None:
    """Refuse a supernet of another space or preset than the caller expects, naming the field."""
    path = Path(directory) / META_FILE
    if space is not None and meta["space"] != space:
        raise CheckpointError(f"{path}: space is {meta['space']!r}, expected {space!r}")
    if preset is not None and meta["preset"] != preset:
        raise CheckpointError(f"{path}: preset is {meta['preset']!r} (space {meta['space']!r}), expected {preset!r}")


def load_supernet(directory: str | Path, space: str | None = None, preset: str | None = None) -> LoadedSupernet:
    """The trained supernet in `directory`, weights loaded, in eval mode.

    `space`/`preset`, when given, must match the stored ones. Raises `CheckpointError` for a missing
    directory or file, corrupt JSON or weights, a newer format, or a space/preset mismatch.
    """
    directory = Path(directory)
    meta = read_meta(directory)
    check_identity(meta, directory, space, preset)
    try:
        built = get_space(meta["space"], meta["preset"], **meta["space_options"])
    except (HwnasError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / META_FILE}: cannot rebuild space {meta['space']!r}/{meta['preset']!r}: {exc}") from None
    path = directory / CHECKPOINT_FILE
    payload = load_tensors(path, CheckpointError, "checkpoint")
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointError(f"{path}: field 'model' is missing")
    supernet = built.build_supernet()
    try:
        supernet.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit {meta['space']}/{meta['preset']} "
                              f"({str(exc).splitlines()[0]})") from None
    state = {k: v for k, v in payload.items() if k not in ("model", "format_version")}
    return LoadedSupernet(built, supernet.eval(), meta, directory, state)
