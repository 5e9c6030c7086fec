"""ONNX export of a standalone subnet, checked against torch with ONNX Runtime on a real batch.

The legacy TorchScript exporter (`dynamo=False`, opset 17) is used: it needs no extra package and handles
every block of hwnas's spaces. The batch axis is dynamic; for encoder-decoders the sequence axes too.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.errors import ExportError

OPSET = 17
#: Largest |onnxruntime − torch| accepted on the check batch.
TOLERANCE = 1e-4


def input_names(count: int) -> list[str]:
    return ["input"] if count == 1 else ["src_tokens", "tgt_tokens"][:count]


def _dynamic_axes(names: list[str]) -> dict[str, dict[int, str]]:
    if names == ["input"]:
        return {"input": {0: "batch"}, "logits": {0: "batch"}}
    return {"src_tokens": {0: "batch", 1: "src_len"}, "tgt_tokens": {0: "batch", 1: "tgt_len"},
            "logits": {0: "batch", 1: "tgt_len"}}


def export_onnx(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path, tolerance: float = TOLERANCE) -> float:
    """Write `module` as ONNX to `path`, run it in ONNX Runtime on `inputs`, and return the largest
    absolute difference from torch; raises `ExportError` (and writes nothing) when it exceeds `tolerance`."""
    import onnxruntime  # only to run a model: heavy, and noisy where it cannot write $HOME

    module = module.eval()
    names = input_names(len(inputs))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=OPSET, input_names=names,
                          output_names=["logits"], dynamic_axes=_dynamic_axes(names))
        expected = module(*inputs).numpy()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {name: t.numpy() for name, t in zip(names, inputs)})[0]
    if got.shape != expected.shape:
        raise ExportError(f"ONNX model output shape {got.shape} differs from torch's {expected.shape}; not written")
    diff = float(np.abs(got.astype(np.float64) - expected.astype(np.float64)).max())
    if not diff <= tolerance:  # also catches NaN
        raise ExportError(f"ONNX model disagrees with torch by {diff:.3g} (> {tolerance:g}) on the check batch; not written")
    path.write_bytes(buffer.getvalue())
    return diff
