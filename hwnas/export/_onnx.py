"""ONNX export of a standalone subnet, checked against torch with ONNX Runtime on a real batch.

The legacy TorchScript exporter (`dynamo=False`, opset 17) is used: it needs no extra package and handles
every block of hwnas's spaces. The batch axis is dynamic; for encoder-decoders the sequence axes too.
A detector is exported with its boxes decoded and its scores as probabilities (`boxes`, `scores`: what a
deployment runs NMS on), not as raw anchor encodings.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.errors import ExportError
from hwnas.search_spaces import SearchSpace
from hwnas.training.detection import DecodedDetector, space_anchors

OPSET = 17
#: Largest |onnxruntime − torch| accepted on the check batch.
TOLERANCE = 1e-4


def input_names(count: int) -> list[str]:
    return ["input"] if count == 1 else ["src_tokens", "tgt_tokens"][:count]


def _dynamic_axes(names: list[str], outputs: list[str]) -> dict[str, dict[int, str]]:
    if names == ["input"]:
        return {"input": {0: "batch"}, **{name: {0: "batch"} for name in outputs}}
    return {"src_tokens": {0: "batch", 1: "src_len"}, "tgt_tokens": {0: "batch", 1: "tgt_len"},
            **{name: {0: "batch", 1: "tgt_len"} for name in outputs}}


def deployed_form(space: SearchSpace, module: nn.Module) -> tuple[nn.Module, list[str]]:
    """The module as it is exported, and its output names: a detector decoded to boxes and scores."""
    if space.io.is_detection:
        return DecodedDetector(module, space_anchors(space)), ["boxes", "scores"]
    return module, ["logits"]


def export_onnx(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path, tolerance: float = TOLERANCE,
                outputs: list[str] | None = None) -> float:
    """Write `module` as ONNX to `path`, run it in ONNX Runtime on `inputs`, and return the largest
    absolute difference from torch over its `outputs` (names; default one, `logits`); raises `ExportError`
    (and writes nothing) when it exceeds `tolerance`."""
    import onnxruntime  # only to run a model: heavy, and noisy where it cannot write $HOME

    module, outputs = module.eval(), outputs or ["logits"]
    names = input_names(len(inputs))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=OPSET, input_names=names,
                          output_names=outputs, dynamic_axes=_dynamic_axes(names, outputs))
        result = module(*inputs)
        expected = [t.numpy() for t in (result if isinstance(result, tuple) else (result,))]
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    diff = 0.0
    for name, got, want in zip(outputs, session.run(None, {name: t.numpy() for name, t in zip(names, inputs)}), expected):
        if got.shape != want.shape:
            raise ExportError(f"ONNX model output {name!r} has shape {got.shape}, torch's {want.shape}; not written")
        diff = max(diff, float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()))
    if not diff <= tolerance:  # also catches NaN
        raise ExportError(f"ONNX model disagrees with torch by {diff:.3g} (> {tolerance:g}) on the check batch; not written")
    path.write_bytes(buffer.getvalue())
    return diff
