"""The extracted-subnet directory: file names, format version, its error, and reading `arch.json`.

A subnet directory is what a user takes away from a search: `arch.json` (what the subnet is and where its
weights came from, text), `model.pt` (the standalone module's state_dict, tensors only), `model.onnx`,
`README.md`, and optionally `hardware.json` (co-design choices) and `metrics.json` (after `hwnas train`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnas.errors import HwnasError

FORMAT_VERSION = 1
ARCH_FILE, WEIGHTS_FILE, ONNX_FILE = "arch.json", "model.pt", "model.onnx"
README_FILE, HARDWARE_FILE, METRICS_FILE, VOCAB_FILE = "README.md", "hardware.json", "metrics.json", "vocab.json"
#: Every file hwnas writes into a subnet directory (`--force` replaces these and nothing else).
OWNED_FILES = (ARCH_FILE, WEIGHTS_FILE, ONNX_FILE, README_FILE, HARDWARE_FILE, METRICS_FILE, VOCAB_FILE)
_REQUIRED = ("format_version", "space", "preset", "space_options", "arch", "arch_id", "weights")


class ExportError(HwnasError, ValueError):
    """An extraction or subnet directory that cannot be used: missing/corrupt files, an existing output
    directory, a trial not in its experiment, an ONNX model that disagrees with torch; names the file or field."""


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_arch_json(directory: str | Path) -> dict[str, Any]:
    """`arch.json` of a subnet directory, checked for completeness and format version."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ExportError(f"subnet directory {str(directory)!r} not found (make one with `hwnas extract`)")
    path = directory / ARCH_FILE
    if not path.is_file():
        raise ExportError(f"{path}: missing; {str(directory)!r} is not an extracted subnet directory")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: corrupt JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ExportError(f"{path}: must hold a JSON object, got {type(meta).__name__}")
    missing = [key for key in _REQUIRED if key not in meta]
    if missing:
        raise ExportError(f"{path}: field {missing[0]!r} is missing")
    if not isinstance(meta["format_version"], int) or meta["format_version"] > FORMAT_VERSION:
        raise ExportError(f"{path}: format_version {meta['format_version']!r} is newer than this hwnas reads "
                          f"({FORMAT_VERSION}); upgrade hwnas")
    return meta
