"""Extraction: a subnet with its inherited weights, written as a self-describing directory.

Everything is written to a fresh folder beside the output first and checked (ONNX Runtime against torch,
and `load_subnet` of the folder against the module it came from); only then does it take the output's
place, so a failed extraction leaves nothing half-written.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hwnas.artifacts import subnet_dir as fmt
from hwnas.artifacts.subnet_load import load_subnet
from hwnas.errors import HwnasError, InvalidArchError
from hwnas.export._inputs import check_inputs, is_seq2seq
from hwnas.export._onnx import OPSET, deployed_form, export_onnx, input_names
from hwnas.export._readme import readme_text
from hwnas.export._source import SubnetSource
from hwnas.search_spaces import Arch, SearchSpace, Supernet, get_space, recalibrate_bn
from hwnas.search_spaces.bn import BatchNorms
from hwnas.tasks import get_task
from hwnas.training import load_supernet
from hwnas.training._loop import calibration_batches

CHECK_BATCH = 8


@dataclass(frozen=True)
class Extracted:
    """The written directory, its `arch.json` content and the ONNX check's max abs difference."""

    path: Path
    meta: dict[str, Any]
    onnx_max_abs_diff: float


def prepare_out(out: Path, force: bool) -> None:
    """Refuse an existing output unless `force`; a file in its place is refused always."""
    if out.exists() and not out.is_dir():
        raise fmt.ExportError(f"output {str(out)!r} exists and is not a directory")
    if out.exists() and not force:
        raise fmt.ExportError(f"output directory {str(out)!r} exists; pass --force to replace its subnet files")
    blocking = next((parent for parent in out.parents if parent.exists() and not parent.is_dir()), None)
    if blocking is not None:
        raise fmt.ExportError(f"output {str(out)!r}: {str(blocking)!r} is a file, not a directory")


def _space(source: SubnetSource) -> SearchSpace:
    try:
        return get_space(source.space, source.preset, **source.space_options)
    except TypeError as exc:
        raise fmt.ExportError(f"space {source.space!r}: bad space options {source.space_options} ({exc})") from None


def _supernet(source: SubnetSource, space: SearchSpace) -> tuple[SearchSpace, Supernet, dict[str, Any], dict[str, Any]]:
    """(space, supernet, space options to rebuild it, weights description) for `source`."""
    if source.supernet is None:
        torch.manual_seed(source.seed)
        weights = {"from": "initial", "seed": source.seed,
                   "note": "no trained supernet was given; train with `hwnas train`, or search with a `supernet:`"}
        return space, space.build_supernet().eval(), dict(source.space_options), weights

    loaded = load_supernet(source.supernet, space=source.space, preset=space.preset)
    stored = loaded.meta["space_options"]
    for key, value in source.space_options.items():
        if key in stored and stored[key] != value:
            raise fmt.ExportError(f"{Path(source.supernet) / 'supernet.json'}: space option {key} is {stored[key]!r}, "
                                  f"but the experiment uses {value!r}")
    weights = {"from": "supernet", "supernet": str(Path(source.supernet).resolve()),
               "epochs_done": loaded.meta.get("epochs_done"), "task": loaded.meta.get("task")}
    return loaded.space, loaded.supernet.eval(), {**source.space_options, **stored}, weights


def _calibrate(supernet: Supernet, arch: Arch, inputs: tuple[torch.Tensor, ...], source: SubnetSource,
               weights: dict[str, Any]) -> None:
    """Trained weights: BatchNorm statistics re-estimated for `arch` on the supernet's task (as the
    accuracy evaluator does), so the extracted module scores as its trial did."""
    if source.supernet is None or not any(isinstance(m, BatchNorms) for m in supernet.modules()):
        return
    spec = weights.get("task") or source.task  # the task the supernet was trained on
    task = get_task(spec["name"], **spec.get("options", {})) if spec else None
    recalibrate_bn(supernet, arch, calibration_batches(task) if task is not None else [inputs[0]])
    weights["bn_recalibrated_on"] = spec["name"] if task is not None else "check batch"


def _forward_ok(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> bool:
    try:
        with torch.no_grad():
            module(*inputs)
    except (RuntimeError, IndexError, ValueError):
        return False
    return True


def extract_subnet(source: SubnetSource, out: str | Path, force: bool = False) -> Extracted:
    """Write `source`'s subnet to `out`: arch.json, model.pt, model.onnx (checked), README.md, hardware.json.

    Raises `InvalidArchError` for an arch outside the space, `CheckpointError` for a missing or mismatched
    supernet directory, `ExportError` for an existing `out` without `force` or a failed ONNX check.
    """
    out = Path(out)
    prepare_out(out, force)
    base = _space(source)
    arch = _resolve_arch(base, source.arch)  # a bad arch fails before any weights are built
    space, supernet, options, weights = _supernet(source, base)
    arch = space.validate(arch)
    inputs, checked_on = check_inputs(space, source.task, CHECK_BATCH)
    _calibrate(supernet, arch, inputs, source, weights)
    module = supernet.extract(arch).eval()
    if not _forward_ok(module, inputs):
        inputs, checked_on = space.example_input(CHECK_BATCH), f"example_input ({checked_on} do not fit the subnet)"
    meta = {
        "format_version": fmt.FORMAT_VERSION, "kind": "subnet", "space": space.name, "preset": space.preset,
        "space_options": options, "arch": arch.to_dict(), "arch_id": arch.id, "source": source.origin,
        "weights": weights, "metrics": source.metrics, "task": source.task,
        "inputs": input_names(len(inputs)), "input_shapes": [list(t.shape[1:]) for t in inputs],
        "params": sum(p.numel() for p in module.parameters()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)  # e.g. subnets/ of `hwnas pareto`'s extract commands
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()  # an ordinary folder (umask permissions), renamed to `out` when complete
    try:
        torch.save(module.state_dict(), staging / fmt.WEIGHTS_FILE)
        deployed, outputs = deployed_form(space, module)
        diff = export_onnx(deployed, inputs, staging / fmt.ONNX_FILE, outputs=outputs)
        meta["onnx"] = {"opset": OPSET, "max_abs_diff": diff, "checked_on": checked_on, "batch": len(inputs[0]),
                        "seq2seq": is_seq2seq(space), "outputs": outputs}
        fmt.write_json(staging / fmt.ARCH_FILE, meta)
        if source.hardware is not None:
            fmt.write_json(staging / fmt.HARDWARE_FILE, source.hardware)
        (staging / fmt.README_FILE).write_text(readme_text(meta, str(out), source.hardware))
        _check_round_trip(staging, module, inputs)
        _move_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Extracted(out, meta, diff)


def _resolve_arch(space: SearchSpace, arch: Any) -> Arch:
    if isinstance(arch, str):
        if arch in ("min", "max"):
            return space.min_arch() if arch == "min" else space.max_arch()
        if arch in space.named_archs():
            return space.named_arch(arch)

        raise InvalidArchError(f"--arch {arch!r} is neither JSON, a file, 'min'/'max', nor a named arch of "
                               f"{space.name}/{space.preset} ({', '.join(space.named_archs()) or 'none'})")
    return space.validate(arch)


def _check_round_trip(directory: Path, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
    """The directory must rebuild the very module: same outputs from `load_subnet`."""
    try:
        rebuilt = load_subnet(directory)
    except HwnasError as exc:
        raise fmt.ExportError(f"the written subnet does not load back: {exc}") from None
    with torch.no_grad():
        if not torch.equal(rebuilt(*inputs), module(*inputs)):
            raise fmt.ExportError("the written subnet loads back with different outputs; nothing written")


def _move_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    for name in fmt.OWNED_FILES:  # --force: replace hwnas's files only, never the rest of the folder
        (out / name).unlink(missing_ok=True)
    for path in staging.iterdir():
        path.rename(out / path.name)
