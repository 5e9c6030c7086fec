"""Where a subnet to extract comes from: an arch the user gives, or a stored trial (`hwnas.search.trial_source`).

Both resolve to a `SubnetSource` (space, preset, space options, the arch as stored, optional trained
supernet, seed of the initial weights, task, and the trial's metrics and hardware choices), so extraction
itself does not care which it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwnas.artifacts import read_text_file
from hwnas.errors import ExportError, InvalidArchError
from hwnas.training import read_meta


@dataclass(frozen=True)
class SubnetSource:
    """Everything extraction needs to know about one subnet, before any weights are touched."""

    space: str
    preset: str | None
    space_options: dict[str, Any]
    arch: Any  # a mapping, "min"/"max" or a named arch; validated against the space at extraction
    origin: dict[str, Any]
    supernet: str | None = None
    seed: int = 0
    task: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    hardware: dict[str, Any] | None = None


def read_arch_text(text: str) -> tuple[Any, dict[str, Any]]:
    """`--arch` as JSON text, a JSON file, `min`/`max` or a named arch → (arch, origin description)."""
    if text in ("min", "max") or not (text.lstrip().startswith("{") or Path(text).exists()):
        return text, {"arch": text}
    origin: dict[str, Any] = {"arch": "inline JSON"}
    if not text.lstrip().startswith("{"):
        origin = {"arch_file": str(Path(text).resolve())}
        text = read_text_file(Path(text), "--arch", error=InvalidArchError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArchError(f"--arch: not valid JSON ({exc})") from None
    except RecursionError:
        raise InvalidArchError("--arch: JSON nested too deeply; an arch is an object of choices") from None
    if isinstance(data, dict) and isinstance(data.get("arch"), dict):  # an arch.json or a trial row
        data = data["arch"]
    if not isinstance(data, dict):
        raise InvalidArchError(f"--arch: must be a JSON object of choices, got {type(data).__name__}")
    return data, origin


def from_arch(arch: str, space: str | None, preset: str | None = None, supernet: str | None = None,
              seed: int = 0, space_options: dict[str, Any] | None = None) -> SubnetSource:
    """An arch the user gives (see `read_arch_text`); space and preset default to the supernet's."""
    meta = None
    if supernet is not None:
        meta = read_meta(supernet)
    if space is None:
        if meta is None:
            raise ExportError("--arch needs --space (and --preset), or --supernet to take them from")
        space, preset = meta["space"], preset or meta["preset"]
    value, origin = read_arch_text(arch)
    task = {"name": meta["task"]["name"], "options": dict(meta["task"].get("options", {}))} if meta else None
    return SubnetSource(space=space, preset=preset, space_options=dict(space_options or {}), arch=value,
                        origin=origin, supernet=supernet, seed=seed, task=task)
