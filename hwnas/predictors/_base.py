"""The predictor contract and its registry: sklearn-like `fit`/`predict`, saved as JSON (never pickle).

A predictor maps a float matrix `X` (one row per sample) to latencies in ms. `to_dict()` returns plain
JSON data with the predictor's `kind`; `predictor_from_dict` rebuilds any registered kind from it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from hwnas.errors import ProfileError
from hwnas.registry import Registry

#: Bumped when a predictor's saved layout changes; loading a newer one is an error, not a guess.
PREDICTOR_FORMAT_VERSION = 1

#: Predictor kind -> its class (a saved predictor names its kind; loading rebuilds that class).
PREDICTORS: Registry[type[Predictor]] = Registry("predictor kind")
P = TypeVar("P", bound="type[Predictor]")


def register_predictor(kind: str):  # noqa: ANN201 - decorator
    """Class decorator: makes a predictor kind loadable by name from its saved dict."""

    def decorate(cls: P) -> P:
        cls.kind = kind
        return PREDICTORS.register(kind, cls)

    return decorate


def list_predictors() -> list[str]:
    return PREDICTORS.names()


def predictor_class(kind: str) -> type[Predictor]:
    return PREDICTORS.get(kind)


def as_matrix(X: ArrayLike) -> np.ndarray:
    """`X` as a 2-D float64 matrix (a single row is accepted as 1-D)."""
    matrix = np.asarray(X, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise ValueError(f"X must be a matrix with one row per sample, got shape {matrix.shape}")
    return matrix


def check_fit_data(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated training data: finite features, positive finite latencies, matching lengths."""
    matrix, target = as_matrix(X), np.asarray(y, dtype=np.float64).ravel()
    if matrix.shape[0] != target.size:
        raise ValueError(f"X has {matrix.shape[0]} rows but y has {target.size} latencies")
    if target.size == 0:
        raise ValueError("cannot fit a predictor on zero measurements")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("X holds NaN or infinite features")
    if not np.all(np.isfinite(target)) or np.any(target <= 0):
        raise ValueError("latencies must be positive finite numbers")
    return matrix, target


class Predictor(ABC):
    """Fits on (features, measured ms) and predicts ms for thousands of rows per call."""

    #: Registry name, set by `register_predictor`.
    kind: str = ""

    @abstractmethod
    def fit(self, X: ArrayLike, y: ArrayLike) -> Predictor:
        """Fit on rows `X` and latencies `y` (ms); returns self. Raises ValueError on bad data."""

    @abstractmethod
    def predict(self, X: ArrayLike) -> np.ndarray:
        """Latency in ms of every row of `X`; raises RuntimeError before `fit`."""

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """JSON-ready fitted state and hyper-parameters."""

    @classmethod
    @abstractmethod
    def _from_state(cls, state: dict[str, Any]) -> Predictor:
        """Inverse of `_state`; raises KeyError/TypeError/ValueError on bad state."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "format_version": PREDICTOR_FORMAT_VERSION, **self._state()}


def predictor_from_dict(data: dict[str, Any], where: str = "predictor") -> Predictor:
    """Rebuild a saved predictor; bad data raises `ProfileError` naming `where` and the field."""
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: expected an object with a 'kind', got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in PREDICTORS:
        raise ProfileError(f"{where}: field 'kind' = {kind!r} is not one of {', '.join(list_predictors())}")
    version = data.get("format_version")
    if not isinstance(version, int) or version > PREDICTOR_FORMAT_VERSION:
        raise ProfileError(f"{where}: field 'format_version' = {version!r}; this hwnas reads predictor format "
                           f"{PREDICTOR_FORMAT_VERSION} and older (upgrade hwnas to read newer ones)")
    try:
        return PREDICTORS.get(kind)._from_state(data)
    except ProfileError as exc:  # a nested predictor's error: say where (the file) it sits
        raise ProfileError(f"{where}: {exc}") from None
    except KeyError as exc:
        raise ProfileError(f"{where}: {kind} predictor lacks field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{where}: {kind} predictor is malformed: {exc}") from None


def save_predictor(predictor: Predictor, path: str | Path) -> None:
    Path(path).write_text(json.dumps(predictor.to_dict(), separators=(",", ":")))


class _NonFinite(ValueError):
    pass


def _refuse_non_finite(token: str) -> float:
    raise _NonFinite(token)


def read_predictor_json(path: Path, named_by: str = "") -> Any:
    """A predictor file's JSON; a missing, unreadable or corrupt file, or one holding NaN or Infinity (a
    predictor that would print NaN), raises `ProfileError` naming it (and the field naming it)."""
    named = f" (named by {named_by})" if named_by else ""
    if path.is_dir():
        raise ProfileError(f"{path}: is a directory, not a predictor file{named}")
    try:
        return json.loads(path.read_bytes().decode("utf-8"), parse_constant=_refuse_non_finite)
    except FileNotFoundError:
        raise ProfileError(f"{path}: predictor file not found{named}") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte {exc.start}); a predictor file is JSON") from None
    except _NonFinite as exc:
        raise ProfileError(f"{path}: holds {exc.args[0]}; a predictor's numbers must be finite") from None
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def load_predictor(path: str | Path) -> Predictor:
    """Load a predictor JSON file; a missing or corrupt file raises `ProfileError` naming it."""
    path = Path(path)
    return predictor_from_dict(read_predictor_json(path), str(path))
