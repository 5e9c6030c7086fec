"""Arguments several `hwnas` commands read the same way: a space with its preset, an arch, an input size."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from hwnas.artifacts import read_text_file
from hwnas.errors import HwnasError, InvalidArchError, shown
from hwnas.search_spaces import Arch, SearchSpace, get_space


def read_space(name: str, preset: Optional[str], num_classes: Optional[int] = None) -> SearchSpace:
    options = {} if num_classes is None else {"num_classes": num_classes}
    try:
        return get_space(name, preset, **options)
    except TypeError:
        raise HwnasError(f"space {name!r} has no option num_classes") from None


def read_arch(space: SearchSpace, text: str) -> Arch:
    """An arch from JSON text, a JSON file, `min`/`max`, or a named architecture of the space."""
    if text in ("min", "max"):
        return space.min_arch() if text == "min" else space.max_arch()
    if text in space.named_archs():
        return space.named_arch(text)
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.exists():
            raise InvalidArchError(f"--arch {shown(text)} is neither JSON, a file, 'min'/'max', nor a named arch "
                                   f"({', '.join(space.named_archs()) or 'none in this space'})")
        text = read_text_file(path, "--arch")
    try:
        arch = Arch.from_json(text)
    except RecursionError:
        raise InvalidArchError("--arch: JSON nested too deeply; an arch is an object of choices") from None
    return space.validate(arch)


def read_archs_file(space: SearchSpace, path: Path) -> list[Arch]:
    """Archs of a JSON-lines file (one arch object per line, as `hwnas sample` prints); a bad line is named."""
    archs = []
    for number, line in enumerate(read_text_file(path, "--archs").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            archs.append(space.validate(Arch.from_json(line)))
        except (InvalidArchError, RecursionError) as exc:
            raise InvalidArchError(f"{path}: line {number}: {exc}") from None
    if not archs:
        raise InvalidArchError(f"{path}: no archs (expected one JSON object per line)")
    return archs


def read_input_shape(space: SearchSpace, text: Optional[str]) -> tuple[int, ...]:
    default = space.default_input_shape
    if text is None:
        return default
    try:
        dims = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise HwnasError(f"--input {shown(text)} must be an int or comma-separated ints, e.g. 224 or 3,224,224") from None
    if min(dims) < 1:
        raise HwnasError(f"--input {text!r}: every size must be a positive int")
    if len(dims) == 1 and len(default) == 3:
        return (default[0], dims[0], dims[0])
    if len(dims) == 1:
        return tuple(dims[0] for _ in default)
    if len(dims) != len(default):
        raise HwnasError(f"--input {text!r} has {len(dims)} dims; this space takes {len(default)} (default {default})")
    return dims
