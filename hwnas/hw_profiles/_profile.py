"""`Profile`: one device's latency model on disk — `profile.yaml` plus a predictor JSON beside it.

The YAML says what the numbers mean (device, kind, runtime, threads, batch), where they came from
(provenance), where they are valid (domain) and how good they are (validation on held-out
measurements). Loading checks every field and names the file and field that is wrong; writing goes to
a temporary directory that is renamed into place, so a failed calibration leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hwnas.errors import ProfileError
from hwnas.predictors import Predictor, predictor_from_dict
from hwnas.predictors._base import read_predictor_json

#: Bumped when the profile layout changes; a profile from a newer hwnas is refused, not guessed at.
PROFILE_FORMAT_VERSION = 1
PROFILE_FILE = "profile.yaml"
DEVICE_KINDS = ("cpu", "gpu", "mobile-cpu", "accelerator")
REQUIRED_PROVENANCE = ("source", "licence", "date")


@dataclass
class LatencyModel:
    """The fitted predictor of a profile: named parts (e.g. encoder, decoder), each a predictor over the
    profile's feature set; a sample's latency is the sum of its parts."""

    features: str
    parts: dict[str, Predictor]
    #: Predictors the feature computation needs (e.g. op microbenchmark models); not summed.
    aux: dict[str, Predictor] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": PROFILE_FORMAT_VERSION, "features": self.features,
                "parts": {name: p.to_dict() for name, p in self.parts.items()},
                "aux": {name: p.to_dict() for name, p in self.aux.items()}}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> LatencyModel:
        if not isinstance(data, dict):
            raise ProfileError(f"{where}: expected a JSON object with 'features' and 'parts'")
        _check_version(data.get("format_version"), where)
        features, parts = data.get("features"), data.get("parts")
        if not isinstance(features, str):
            raise ProfileError(f"{where}: field 'features' is missing or not a string")
        if not isinstance(parts, dict) or not parts:
            raise ProfileError(f"{where}: field 'parts' must be a non-empty object of predictors")
        aux = data.get("aux", {})
        if not isinstance(aux, dict):
            raise ProfileError(f"{where}: field 'aux' must be an object of predictors")
        return cls(features, {str(k): predictor_from_dict(v, f"{where}: parts.{k}") for k, v in parts.items()},
                   {str(k): predictor_from_dict(v, f"{where}: aux.{k}") for k, v in aux.items()})


def _check_version(version: Any, where: str) -> None:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProfileError(f"{where}: field 'format_version' is missing or not a positive integer")
    if version > PROFILE_FORMAT_VERSION:
        raise ProfileError(f"{where}: field 'format_version' = {version} is newer than this hwnas reads "
                           f"({PROFILE_FORMAT_VERSION}); upgrade hwnas")


@dataclass
class Profile:
    """A device's calibrated latency model and the facts that qualify it (see module docstring)."""

    device: str
    kind: str
    runtime: str
    threads: int
    batch: int
    provenance: dict[str, Any]
    domain: dict[str, Any]
    predictor: dict[str, Any]
    validation: dict[str, Any]
    n_measurements: int
    path: Path | None = None
    _model: LatencyModel | None = field(default=None, repr=False)

    # -- facts -------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.device

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.validation.get("metrics", {}))

    def summary(self) -> dict[str, Any]:
        """The row `hwnas devices` prints."""
        m = self.metrics
        return {"name": self.device, "kind": self.kind, "runtime": self.runtime, "n_measurements": self.n_measurements,
                "acc10": m.get("acc10"), "kendall_tau": m.get("kendall_tau"), "predictor": self.predictor.get("kind"),
                "features": self.domain.get("features"), "path": str(self.path) if self.path else None}

    # -- the model ---------------------------------------------------------------------------------
    @property
    def model(self) -> LatencyModel:
        if self._model is None:
            if self.path is None:
                raise ProfileError(f"profile {self.device!r} has no fitted model attached and no directory to load one from")
            file = self.path / str(self.predictor["file"])
            data = read_predictor_json(file, named_by="field 'predictor.file'")
            self._model = LatencyModel.from_dict(data, str(file))
        return self._model

    def predict_parts(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Sum over parts of each part's prediction on its feature matrix (ms per row)."""
        model = self.model
        missing = set(model.parts) - set(parts)
        if missing:
            raise ValueError(f"features lack part {sorted(missing)[0]!r}; this profile has parts {sorted(model.parts)}")
        return sum(model.parts[name].predict(parts[name]) for name in model.parts)  # type: ignore[return-value]

    # -- (de)serialisation -------------------------------------------------------------------------
    def to_yaml_dict(self) -> dict[str, Any]:
        return {"format_version": PROFILE_FORMAT_VERSION, "device": self.device, "kind": self.kind, "runtime": self.runtime,
                "threads": self.threads, "batch": self.batch, "n_measurements": self.n_measurements,
                "provenance": self.provenance, "domain": self.domain, "predictor": self.predictor,
                "validation": _plain(self.validation)}


def _plain(value: Any) -> Any:
    """numpy scalars and NaN made YAML-safe (NaN becomes null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in data:
        raise ProfileError(f"{where}: field {name!r} is missing")
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ProfileError(f"{where}: field {name!r} must be {names}, got {value!r}")
    return value


#: libyaml's safe loader where PyYAML was built with it (5× faster; `hwnas devices` reads every profile).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_profile(directory: str | Path) -> Profile:
    """Read `directory/profile.yaml`; any missing or bad field raises `ProfileError` naming file and field."""
    directory = Path(directory)
    file = directory / PROFILE_FILE
    where = str(file)
    if file.is_dir():
        raise ProfileError(f"{where}: is a directory, not a profile file")
    try:
        data = yaml.load(file.read_bytes().decode("utf-8"), Loader=_SAFE_LOADER)
    except FileNotFoundError:
        raise ProfileError(f"{where}: profile file not found") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{where}: not UTF-8 text (byte {exc.start}); a profile is a YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProfileError(f"{where}: not valid YAML{at}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: expected a mapping of fields, got {type(data).__name__}")
    _check_version(data.get("format_version"), where)
    kind = _field(data, "kind", str, where)
    if kind not in DEVICE_KINDS:
        raise ProfileError(f"{where}: field 'kind' = {kind!r} is not one of {', '.join(DEVICE_KINDS)}")
    threads, batch = _field(data, "threads", int, where), _field(data, "batch", int, where)
    if threads < 0 or batch < 1:
        raise ProfileError(f"{where}: fields 'threads' (≥ 0; 0 = runtime default) and 'batch' (≥ 1) are out of range")
    provenance = _field(data, "provenance", dict, where)
    for key in REQUIRED_PROVENANCE:
        if not provenance.get(key):
            raise ProfileError(f"{where}: field 'provenance.{key}' is missing")
    domain = _field(data, "domain", dict, where)
    if not isinstance(domain.get("features"), str):
        raise ProfileError(f"{where}: field 'domain.features' is missing")
    predictor = _field(data, "predictor", dict, where)
    for key in ("kind", "file"):
        if not isinstance(predictor.get(key), str):
            raise ProfileError(f"{where}: field 'predictor.{key}' is missing")
    if Path(predictor["file"]).name != predictor["file"]:
        raise ProfileError(f"{where}: field 'predictor.file' must be a file name beside profile.yaml, got {predictor['file']!r}")
    validation = _field(data, "validation", dict, where)
    if not isinstance(validation.get("metrics"), dict):
        raise ProfileError(f"{where}: field 'validation.metrics' is missing")
    n = _field(data, "n_measurements", int, where)
    return Profile(device=_field(data, "device", str, where), kind=kind, runtime=_field(data, "runtime", str, where),
                   threads=threads, batch=batch, provenance=provenance, domain=domain, predictor=predictor,
                   validation=validation, n_measurements=n, path=directory)


def save_profile(profile: Profile, model: LatencyModel, out: str | Path) -> Path:
    """Write `out/profile.yaml` and the predictor file atomically: a temp dir beside `out` renamed into place.

    An existing `out` is replaced only once the new profile is completely written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        predictor_file = str(profile.predictor.get("file", "predictor.json"))
        profile.predictor = {**profile.predictor, "file": predictor_file}
        (tmp / predictor_file).write_text(json.dumps(model.to_dict(), separators=(",", ":")))
        header = (f"# hwnas hardware profile of {profile.device}; written by hwnas, format {PROFILE_FORMAT_VERSION}.\n"
                  f"# The fitted predictor is {predictor_file} beside this file (JSON, no pickle).\n")
        (tmp / PROFILE_FILE).write_text(header + yaml.safe_dump(profile.to_yaml_dict(), sort_keys=False, allow_unicode=True))
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    profile.path, profile._model = out, model
    return out
