"""Deployment knobs measured on this CPU: latency per (threads, runtime, precision), int8 accuracy on the task."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hwnas.codesign import deployment_space
from hwnas.codesign._deploy import DeploymentRunner, deployed
from hwnas.search import Experiment, parse_spec
from hwnas.search_spaces import get_space
from hwnas.training import TrainSettings, train_supernet
from hwnas.training.tasks import space_and_task


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """mixed-attention/tiny trained for two short epochs on 256 MNIST-1D samples (it has Linear layers to quantize)."""
    space, task, options = space_and_task("mixed-attention", "tiny", "mnist1d", {"num_samples": 500})
    task = replace(task, x_train=task.x_train[:256], y_train=task.y_train[:256])
    out = tmp_path_factory.mktemp("sn") / "vit"
    train_supernet(space, task, TrainSettings(epochs=2, batch_size=64, num_random=1, warmup_steps=2), out,
                   task_options=options, progress=False)
    return out


def knobs(threads: int, runtime: str, precision: str):
    return deployment_space().validate({"threads": threads, "runtime": runtime, "precision": precision})


def test_latency_is_measured_for_each_knob_setting(trained):
    runner = DeploymentRunner(get_space("mixed-attention", "tiny"), str(trained), warmup=2, repeats=5)
    arch = runner.space.max_arch()
    for setting in (knobs(1, "torch", "fp32"), knobs(1, "onnxruntime", "int8")):
        ms = runner.latency_ms(arch, setting)
        assert math.isfinite(ms) and 0 < ms < 1000


def test_int8_models_are_quantized_and_score_like_fp32(trained):
    runner = DeploymentRunner(get_space("mixed-attention", "tiny"), str(trained))
    arch = runner.space.max_arch()
    example = runner.space.example_input(2)
    quantized = deployed(runner.subnet(arch), example, "torch", "int8", 1)
    from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear

    assert any(isinstance(m, DynamicQuantizedLinear) for m in quantized.modules())
    fp32 = runner.accuracy(arch, knobs(1, "torch", "fp32"))
    onnx_fp32 = runner.accuracy(arch, knobs(1, "onnxruntime", "fp32"))
    torch_int8 = runner.accuracy(arch, knobs(1, "torch", "int8"))
    onnx_int8 = runner.accuracy(arch, knobs(2, "onnxruntime", "int8"))
    assert all(0.0 <= a <= 1.0 for a in (fp32, onnx_fp32, torch_int8, onnx_int8))
    val = len(runner.task().y_val)
    assert abs(onnx_fp32 - fp32) <= 1 / val + 1e-9  # the same model in another runtime
    assert abs(torch_int8 - fp32) <= 0.1 and abs(onnx_int8 - fp32) <= 0.1
    with torch.inference_mode():
        x = runner.task().x_val[:16]
        logits = runner.subnet(arch)(x)
        assert not torch.equal(logits, quantized(x))  # int8 really changes the arithmetic


def test_a_deployment_search_stores_the_knobs_and_measured_metrics(trained):
    spec = parse_spec({
        "name": "deploy", "space": {"name": "mixed-attention", "preset": "tiny"}, "supernet": str(trained),
        "hardware": {"kind": "deployment", "options": {"choices": {"threads": [1]}, "warmup": 1, "repeats": 3}},
        "objectives": [{"metric": "deploy_accuracy", "direction": "maximize"},
                       {"metric": "deploy_latency_ms", "direction": "minimize"}],
        "searcher": {"kind": "optuna", "sampler": "random"}, "budget": {"trials": 3}, "seed": 0,
    })
    experiment = Experiment(spec, ":memory:")
    experiment.run()
    rows = experiment.rows()
    assert len(rows) == 3
    for row in rows:
        assert row.hardware["threads"] == 1 and row.hardware["runtime"] in ("torch", "onnxruntime")
        assert row.hardware["hw_id"] == deployment_space().validate(row.hardware).id
        assert row.metrics["deploy_latency_ms"] > 0 and 0 <= row.metrics["deploy_accuracy"] <= 1
