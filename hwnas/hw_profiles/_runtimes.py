"""Runtimes a subnet can be timed in on this machine: torch eager (CPU, or a local CUDA GPU), or ONNX Runtime (CPU).

`make_runner` returns a zero-argument call that runs one forward pass of `module` on `inputs`, with the
runtime fixed to `threads` threads. ONNX Runtime needs the optional packages `onnxruntime` and `onnx`
(the exporter); without them the runtime is refused with the reason.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import warnings
from collections.abc import Callable
from typing import Any

import torch

from hwnas.errors import MeasurementError

RUNTIMES = ("torch", "onnxruntime")


def check_runtime(runtime: str) -> None:

    if runtime == "onnxruntime":
        missing = [name for name in ("onnxruntime", "onnx") if importlib.util.find_spec(name) is None]
        if missing:
            raise MeasurementError(f"runtime 'onnxruntime' needs the packages onnxruntime and onnx ({missing[0]} is not "
                                   "installed): pip install onnxruntime onnx")


def runtime_version(runtime: str, device: str = "cpu") -> str:
    if device == "cuda":
        return f"torch {torch.__version__} eager, CUDA {torch.version.cuda} ({torch.cuda.get_device_name(0)})"
    if runtime == "onnxruntime":
        return f"onnxruntime {importlib.metadata.version('onnxruntime')} (CPUExecutionProvider)"
    return f"torch {torch.__version__} eager"


def make_runner(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], runtime: str, threads: int,
                device: str = "cpu") -> Callable[[], Any]:
    """One forward pass of `module` on `inputs` in `runtime` (call inside `torch.inference_mode()` for torch).

    On `device="cuda"` (torch only) the module and inputs move to the GPU and each call synchronises, so a
    timed call covers the kernels it launched."""
    import onnxruntime  # only to run a model: heavy, and noisy where it cannot write $HOME

    if device == "cuda":
        if runtime != "torch":
            raise MeasurementError(f"runtime {runtime!r} measures on the CPU only; time a GPU with --runtime torch")
        module = module.to(device)
        inputs = tuple(t.to(device) for t in inputs)
        return lambda: (module(*inputs), torch.cuda.synchronize())
    if runtime == "torch":
        return lambda: module(*inputs)


    model = onnx_bytes(module, inputs)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feed = {name: tensor.numpy() for name, tensor in zip(names, inputs)}
    return lambda: session.run(None, feed)


def onnx_bytes(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> bytes:
    """`module` on `inputs` as an ONNX model with fixed shapes (opset 17): what ONNX Runtime, the measuring agent
    and `hwnas predict` read."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=17)
    return buffer.getvalue()


class SDPA(torch.nn.Module):
    """The softmax attention core as a module (so it can be exported like the other microbenchmarks)."""

    def __init__(self, causal: bool) -> None:
        super().__init__()
        self.causal = causal

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
