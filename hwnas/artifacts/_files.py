"""Reading the directories hwnas writes (trained supernets, extracted subnets): a versioned JSON description
and a tensors-only torch file, each refused with one line naming the file and field."""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from hwnas.errors import HwnasError


def read_description(directory: str | Path, filename: str, required: Sequence[str], format_version: int,
                     error: type[HwnasError], kind: str, made_by: str) -> dict[str, Any]:
    """`directory/filename` as a JSON object with every `required` field and a format this hwnas reads.

    `kind` describes the directory in messages ("a trained supernet"; its last word names it: "supernet
    directory … not found"), `made_by` says how to make one.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise error(f"{kind.split()[-1]} directory {str(directory)!r} not found ({made_by})")
    path = directory / filename
    if not path.is_file():
        raise error(f"{path}: missing; {str(directory)!r} is not {kind} directory")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: corrupt JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise error(f"{path}: must hold a JSON object, got {type(meta).__name__}")
    missing = [key for key in required if key not in meta]
    if missing:
        raise error(f"{path}: field {missing[0]!r} is missing")
    version = meta["format_version"]
    if not isinstance(version, int) or version > format_version:
        raise error(f"{path}: format_version {version!r} is newer than this hwnas reads ({format_version}); upgrade hwnas")
    return meta


def load_tensors(path: Path, error: type[HwnasError], what: str) -> Any:
    """A torch file of tensors and plain values (`weights_only=True`: nothing is unpickled)."""
    if not path.is_file():
        raise error(f"{path}: missing {what}")
    try:
        with warnings.catch_warnings():  # torch warns, and advises weights_only=False, which hwnas never does
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise error(f"{path}: unreadable {what}: not a tensors-only torch file (hwnas loads with weights_only=True "
                    "and runs no pickled code)") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise error(f"{path}: unreadable {what} ({type(exc).__name__}: {first_line[:200]})") from None


#: An argument's JSON file larger than this is refused before it is read.
MAX_JSON_BYTES = 10_000_000


def read_text_file(path: Path, flag: str, what: str = "JSON", error: type[HwnasError] = HwnasError) -> str:
    """A file a user names with `flag`, as UTF-8 text; refused in one line if missing, a directory, huge or binary."""
    if path.is_dir():
        raise error(f"{flag} {str(path)!r} is a directory, not a {what} file")
    if not path.is_file():
        raise error(f"{flag} {str(path)!r} not found")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise error(f"{flag} {str(path)!r}: {path.stat().st_size:,} bytes; at most {MAX_JSON_BYTES:,}")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{flag} {str(path)!r}: not UTF-8 text (byte {exc.start}); expected {what}") from None
