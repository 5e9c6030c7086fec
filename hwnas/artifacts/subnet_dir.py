"""The extracted-subnet directory: file names, format version, its error, and reading `arch.json`.

A subnet directory is what a user takes away from a search: `arch.json` (what the subnet is and where its
weights came from, text), `model.pt` (the standalone module's state_dict, tensors only), `model.onnx`,
`README.md`, and optionally `hardware.json` (co-design choices) and `metrics.json` (after `hwnas train`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnas.artifacts._files import read_description
from hwnas.errors import ExportError

FORMAT_VERSION = 1
ARCH_FILE, WEIGHTS_FILE, ONNX_FILE = "arch.json", "model.pt", "model.onnx"
README_FILE, HARDWARE_FILE, METRICS_FILE, VOCAB_FILE = "README.md", "hardware.json", "metrics.json", "vocab.json"
#: Every file hwnas writes into a subnet directory (`--force` replaces these and nothing else).
OWNED_FILES = (ARCH_FILE, WEIGHTS_FILE, ONNX_FILE, README_FILE, HARDWARE_FILE, METRICS_FILE, VOCAB_FILE)
_REQUIRED = ("format_version", "space", "preset", "space_options", "arch", "arch_id", "weights")


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_arch_json(directory: str | Path) -> dict[str, Any]:
    """`arch.json` of a subnet directory, checked for completeness and format version."""
    return read_description(directory, ARCH_FILE, _REQUIRED, FORMAT_VERSION, ExportError, "an extracted subnet",
                            "make one with `hwnas extract`")
