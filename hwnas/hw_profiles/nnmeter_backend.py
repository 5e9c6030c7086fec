"""nn-Meter's own latency predictors as a backend: a subnet → nn-Meter's graph IR → its kernel predictors.

nn-Meter (optional extra `hwnas[nnmeter]`) predicts a model's latency on a device (e.g.
`cortexA76cpu_tflite21`) by detecting fused kernels in its graph and pricing each with a per-kernel
regressor. Its predictor files download at first use into `<data_folder>/predictor/<name>/`; here that
cannot happen, so the files are checked *before* nn-Meter is asked, and missing ones are one line
saying which predictor, where nn-Meter looks and how to place them.

The graph is our own conversion (the extracted subnet exported to ONNX with static shapes, rewritten as
nn-Meter's IR: node → {attr: {type, input_shape, output_shape, attr}, inbounds, outbounds}), equal node for
node to what nn-Meter's ONNX converter writes (a test checks it where nn-Meter imports). It needs onnx and
onnxruntime, not nn-Meter: nn-Meter 2.0 imports `pkg_resources`, which setuptools ≥ 81 no longer ships, so
with a current setuptools nn-Meter cannot even be imported (the extra pins `setuptools<81`).
nn-Meter loads its predictor files with pickle: place only files from nn-Meter's own release.
"""

from __future__ import annotations

import importlib.util
import io
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx
import torch
import yaml
from onnx import AttributeProto, shape_inference

from hwnas.errors import NnMeterUnavailableError, ProfileError

DEFAULT_PREDICTOR = "cortexA76cpu_tflite21"


def _package_dir() -> Path:
    spec = importlib.util.find_spec("nn_meter")
    if spec is None or not spec.submodule_search_locations:
        raise NnMeterUnavailableError("the nn-Meter backend needs the optional extra: pip install 'hwnas[nnmeter]'")
    return Path(next(iter(spec.submodule_search_locations)))


def predictor_configs() -> list[dict[str, Any]]:
    """nn-Meter's built-in predictors (name, version, kernel_predictors, download), read from its package
    without importing it (importing nn-Meter writes ~/.nn_meter/config)."""
    user = Path(os.path.expanduser("~/.nn_meter/config/predictors.yaml"))
    path = user if user.is_file() else _package_dir() / "configs" / "predictors.yaml"
    return list(yaml.safe_load(path.read_text()))


def data_folder() -> Path:
    """Where nn-Meter keeps predictor files: `data_folder` of ~/.nn_meter/config/settings.yaml, else ~/.nn_meter/data."""
    settings = Path(os.path.expanduser("~/.nn_meter/config/settings.yaml"))
    if settings.is_file():
        folder = (yaml.safe_load(settings.read_text()) or {}).get("data_folder")
        if folder:
            return Path(folder)
    return Path(os.path.expanduser("~/.nn_meter/data"))


def predictor_config(name: str, version: float | None = None) -> dict[str, Any]:
    configs = predictor_configs()
    matches = [c for c in configs if c["name"] == name and (version is None or float(c["version"]) == float(version))]
    if not matches:
        allowed = ", ".join(sorted({f"{c['name']} v{c['version']}" for c in configs}))
        raise ProfileError(f"nn-Meter has no predictor {name}{'' if version is None else f' v{version}'}; choose one of: {allowed}")
    return max(matches, key=lambda c: float(c["version"]))


def check_predictor_files(name: str = DEFAULT_PREDICTOR, version: float | None = None) -> Path:
    """The folder holding every file of predictor `name`; raises `ProfileError` (one line: which files,
    where nn-Meter looks, how to place them) instead of letting nn-Meter try to download them."""
    config = predictor_config(name, version)
    folder = data_folder() / "predictor" / config["name"]
    needed = [f"{kernel}.pkl" for kernel in config["kernel_predictors"]] + ["fusion_rules.json"]
    missing = [f for f in needed if not (folder / f).is_file()]
    if missing:
        raise ProfileError(
            f"nn-Meter predictor {config['name']} v{config['version']} is not on this machine: nn-Meter looks in {folder}/ "
            f"for {len(needed)} files ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''} missing); download "
            f"{config.get('download', 'the predictor archive')} on a connected machine and unzip it into {folder.parent}/ "
            "(or point data_folder in ~/.nn_meter/config/settings.yaml at a folder that has predictor/" + config["name"] + "/)")
    return folder


def _onnx_bytes(module: Any, example: Any) -> bytes:
    """The module as ONNX with every shape static: torch's exporter leaves shape arithmetic (EMOv2's window
    padding) as graph ops, which shape inference cannot see through, so ONNX Runtime's basic level (constant
    folding, standard ops only) folds it; nn-Meter prices each kernel by its concrete shapes."""
    import onnxruntime  # only to run a model: heavy, and noisy where it cannot write $HOME

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=17, input_names=["input"])
    with tempfile.TemporaryDirectory() as folder:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(Path(folder) / "static.onnx")
        options.log_severity_level = 3
        onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        return (Path(folder) / "static.onnx").read_bytes()


def _shape(value: Any) -> list[int]:
    dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
    return [dims[0], dims[2], dims[3], dims[1]] if len(dims) == 4 else dims  # nn-Meter's kernels read NHWC


def _attrs(node: Any) -> dict[str, Any]:
    getters = {AttributeProto.FLOAT: lambda a: a.f, AttributeProto.INT: lambda a: a.i,
               AttributeProto.INTS: lambda a: list(a.ints), AttributeProto.STRING: lambda a: str(a.s)}
    return {a.name: getters[a.type](a) for a in node.attribute if a.type in getters}


def onnx_to_nnmeter_ir(model: Any) -> dict[str, dict[str, Any]]:
    """An ONNX model → nn-Meter's IR graph, node for node what nn-Meter's ONNX converter writes: per node
    {attr: {type, input_shape, output_shape (NHWC for 4-D), attr}, inbounds, outbounds}; nodes whose tensors
    have no shape (constants) get an empty `attr`, and the Slices of one tensor are one node, as there."""
    graph = shape_inference.infer_shapes(model).graph
    shapes = {v.name: _shape(v) for v in [*graph.input, *graph.value_info, *graph.output]}
    producers: dict[str, list[str]] = {}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            if name in shapes:
                consumers.setdefault(name, []).append(node)
        for name in node.output:
            if name in shapes:
                producers.setdefault(name, []).append(node.name)
    first_slice: dict[str, str] = {}
    for node in graph.node:
        if node.op_type == "Slice":
            first_slice.setdefault(node.input[0], node.name)

    def siblings(node: Any) -> list[str]:  # outputs of the other Slices of the same tensor
        return [out for other in consumers.get(node.input[0], []) if other.name != node.name and other.op_type == "Slice"
                for out in other.output if out in shapes]

    ir: dict[str, dict[str, Any]] = {}
    for node in graph.node:
        is_slice = node.op_type == "Slice"
        if is_slice and first_slice[node.input[0]] != node.name:
            continue
        inputs = [shapes[i] for i in node.input if i in shapes]
        outputs = [shapes[o] for o in node.output if o in shapes] + ([shapes[o] for o in siblings(node)] if is_slice else [])
        attr: dict[str, Any] = {}
        if inputs and len(inputs[0]) > 1 and outputs and len(outputs[0]) > 1:
            attr = {"attr": _attrs(node), "type": node.op_type, "input_shape": inputs, "output_shape": outputs}
        outbounds: list[str] = []
        for out in node.output:
            if out in shapes:
                outbounds += [c.name for c in consumers.get(out, [])]
            if is_slice:
                outbounds += siblings(node)
        ir[node.name] = {"attr": attr, "outbounds": outbounds,
                         "inbounds": [p for i in node.input if i in shapes for p in producers.get(i, [])]}
    return ir


def subnet_to_nnmeter_ir(space, arch, input_shape: Sequence[int] | None = None) -> dict[str, dict[str, Any]]:  # noqa: ANN001
    """`arch`'s extracted subnet (batch 1, `input_shape` or the preset's) as nn-Meter's IR graph."""

    arch = space.validate(arch)
    shape = tuple(input_shape or space.default_input_shape)
    supernet = space.build_supernet().eval()
    subnet = supernet.extract(arch).eval()
    example = torch.zeros(1, *shape)
    return onnx_to_nnmeter_ir(onnx.load_from_string(_onnx_bytes(subnet, example)))


class NnMeterPredictor:
    """nn-Meter's predictor `name`: files checked on construction, nn-Meter imported and loaded on first use."""

    def __init__(self, name: str = DEFAULT_PREDICTOR, version: float | None = None) -> None:
        self.config = predictor_config(name, version)
        self.folder = check_predictor_files(name, version)
        self._predictor: Any = None

    def _load(self) -> Any:
        if self._predictor is None:
            try:
                import nn_meter  # optional extra (hwnas[nnmeter]); its absence is reported, not raised at import
            except ModuleNotFoundError as exc:
                raise NnMeterUnavailableError(f"nn-Meter cannot be imported: package {exc.name!r} is missing "
                                              "(nn-Meter 2.0 needs pkg_resources: pip install 'setuptools<81')") from None
            self._predictor = nn_meter.load_latency_predictor(self.config["name"], float(self.config["version"]))
        return self._predictor

    def predict_ir_ms(self, ir: dict[str, dict[str, Any]]) -> float:
        return float(self._load().predict(ir, model_type="nnmeter-ir"))

    def predict_ms(self, space, archs: Sequence, input_shape: Sequence[int] | None = None) -> list[float]:  # noqa: ANN001
        return [self.predict_ir_ms(subnet_to_nnmeter_ir(space, arch, input_shape)) for arch in archs]
