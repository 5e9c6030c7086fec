"""Deployment knobs measured on this CPU: threads, runtime (torch eager / ONNX Runtime), precision
(fp32 / int8 dynamic quantization).

int8 uses each runtime's own dynamic quantization: `torch.ao.quantization.quantize_dynamic` (Linear
layers; convolutions stay fp32, as torch's dynamic mode has no quantized conv) and ONNX Runtime's
`quantize_dynamic` (MatMul and Conv weights to QInt8; a Linear exported as Gemm stays fp32). Latency is
timed under the exclusive device lock (`hwnas.hw_profiles`): warm-up, repeats, median. Accuracy of the
deployed model (int8 included) is measured on the trained supernet's task, with the weights the subnet
inherits.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.ao.quantization import quantize_dynamic as torch_quantize_dynamic

from hwnas.hw_profiles._lock import device_lock
from hwnas.hw_profiles._timing import Threads, time_call
from hwnas.search_spaces import Arch, SearchSpace, recalibrate_bn
from hwnas.tasks import get_task
from hwnas.training import evaluate_accuracy, load_supernet
from hwnas.training._loop import calibration_batches, has_batchnorm


def quantize_torch(model: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch_quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


class OnnxModule(nn.Module):
    """An ONNX Runtime session as a module (for `evaluate_accuracy` and timing): tensors in, tensor out."""

    def __init__(self, module: nn.Module, example: tuple[torch.Tensor, ...], precision: str, threads: int) -> None:
        import onnxruntime  # only to run a model: heavy, and noisy where it cannot write $HOME

        super().__init__()

        names = [f"input{i}" for i in range(len(example))]
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, example, buffer, dynamo=False, opset_version=17, input_names=names,
                              output_names=["output"], dynamic_axes={n: {0: "batch"} for n in [*names, "output"]})
        model_bytes = buffer.getvalue()
        if precision == "int8":
            model_bytes = _quantize_onnx(model_bytes)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        self.names = names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        feed = {n: t.detach().numpy() for n, t in zip(self.names, inputs)}
        return torch.from_numpy(self.session.run(None, feed)[0])


def _quantize_onnx(model_bytes: bytes) -> bytes:
    from onnxruntime.quantization import QuantType  # only to run a model: heavy, and noisy where it cannot write $HOME
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="hwnas-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model_bytes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ort_quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        return dst.read_bytes()


def deployed(module: nn.Module, example: tuple[torch.Tensor, ...], runtime: str, precision: str, threads: int) -> nn.Module:
    """`module` as it runs under the knobs (eval mode; int8 quantized if asked)."""

    module = module.eval()
    if runtime == "onnxruntime":
        return OnnxModule(module, example, precision, threads)
    return quantize_torch(module) if precision == "int8" else module


def measure_ms(model: nn.Module, example: tuple[torch.Tensor, ...], threads: int, warmup: int, repeats: int,
               lock_timeout_s: float = 600.0) -> float:
    """Median ms of one forward pass (batch of `example`) under the local CPU's exclusive lock."""
    with device_lock("local-cpu", lock_timeout_s), Threads(threads), torch.inference_mode():
        return float(statistics.median(time_call(lambda: model(*example), warmup, repeats)))


class DeploymentRunner:
    """Builds and measures an arch's subnet under deployment knobs; weights from a trained supernet when
    given (`hwnas.training.load_supernet`), else the space's freshly initialised supernet (latency only)."""

    def __init__(self, space: SearchSpace, supernet_dir: str | None = None, warmup: int = 3, repeats: int = 20,
                 lock_timeout_s: float = 600.0) -> None:
        self.space, self.warmup, self.repeats, self.lock_timeout_s = space, warmup, repeats, lock_timeout_s
        self.loaded: Any = None
        if supernet_dir is not None:
            self.loaded = load_supernet(supernet_dir, space.name, space.preset)
            self.supernet = self.loaded.supernet
        else:
            torch.manual_seed(0)
            self.supernet = space.build_supernet().eval()
        self._task: Any = None
        self._calibration: Any = None

    def subnet(self, arch: Arch) -> nn.Module:
        """The extracted subnet; BatchNorm statistics re-estimated for it when the weights are trained."""
        if self.loaded is not None:
            if has_batchnorm(self.supernet):
                if self._calibration is None:
                    self._calibration = calibration_batches(self.task())
                recalibrate_bn(self.supernet, arch, self._calibration)
        return self.supernet.extract(arch).eval()

    def task(self) -> Any:
        if self._task is None:
            self._task = get_task(self.loaded.task_name, **self.loaded.task_options)
        return self._task

    def latency_ms(self, arch: Arch, knobs: Arch) -> float:
        example = self.space.example_input(1)
        model = deployed(self.subnet(arch), example, str(knobs["runtime"]), str(knobs["precision"]), int(knobs["threads"]))
        return measure_ms(model, example, int(knobs["threads"]), self.warmup, self.repeats, self.lock_timeout_s)

    def accuracy(self, arch: Arch, knobs: Arch) -> float:
        """Validation accuracy of the deployed model (needs a trained supernet)."""
        example = self.space.example_input(2)
        model = deployed(self.subnet(arch), example, str(knobs["runtime"]), str(knobs["precision"]), int(knobs["threads"]))
        with torch.inference_mode():
            return float(evaluate_accuracy(model, self.task(), split="val"))
