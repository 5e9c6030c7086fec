"""Any ONNX model priced op by op: the graph mapped to hwnas ops, unsupported operators named, kernel profiles."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
import torch
from onnx import helper
from torch import nn

import hwnas
from hwnas.errors import DataFileError, OutOfDomainError, UnsupportedOpError
from hwnas.hw_profiles import get_profile
from hwnas.hw_profiles._runtimes import onnx_bytes
from hwnas.hw_profiles.onnx_ops import onnx_ops
from hwnas.search_spaces._ops import total_macs


class Block(nn.Module):
    """Conv kinds, norms, activations, squeeze-excite and a classifier: what the mapper must recognise."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Conv2d(16, 16, 5, 1, 2, groups=16)
        self.pw = nn.Conv2d(16, 32, 1)
        self.act = nn.Hardswish()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(32, 8, 1), nn.ReLU(), nn.Conv2d(8, 32, 1), nn.Sigmoid())
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.pw(self.dw(self.stem(x))))
        y = y * self.gate(y)
        return self.head(y.mean((2, 3)))


class Attention(nn.Module):
    def __init__(self, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.heads, self.qkv, self.out = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mixed = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1) @ v
        return self.out(mixed.transpose(1, 2).reshape(n, t, d))


def test_a_convnet_maps_to_the_ops_hwnas_prices():
    found = onnx_ops(onnx_bytes(Block().eval(), (torch.randn(1, 3, 32, 32),)))
    ops = found.check()
    convs = [op for op in ops if op.kind == "conv2d"]
    assert [(op["cin"], op["cout"], op["k"], op["groups"]) for op in convs] == [
        (3, 16, 3, 1), (16, 16, 5, 16), (16, 32, 1, 1), (32, 8, 1, 1), (8, 32, 1, 1)]
    stem_macs = 16 * 16 * 16 * 3 * 3 * 3  # 16×16 outputs × 16 channels × 3·3·3 taps
    assert convs[0].macs == stem_macs
    kinds = {op.kind for op in ops}
    assert {"linear", "pool", "mul", "act"} <= kinds
    assert {op["act"] for op in ops if op.kind == "act"} >= {"hswish", "sigmoid"}


class Gated(nn.Module):
    """SiLU (x · sigmoid(x), same shapes), a constant scale, and squeeze-excite's gate (a per-channel broadcast)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 4, 1), nn.ReLU(), nn.Conv2d(4, 16, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.silu(x) * 0.5
        return y * self.gate(y)


def test_only_a_computed_broadcast_product_is_a_gate():
    from hwnas.hw_profiles._torch_features import op_class

    ops = onnx_ops(onnx_bytes(Gated().eval(), (torch.randn(1, 16, 8, 8),))).check()
    products = [op_class(op) for op in ops if op.kind == "mul"]
    assert products == ["mul", "mul", "mul-broadcast"], "SiLU's and the scale's products are plain; the gate is not"


class HalfAndHalf(nn.Module):
    """ShuffleNet's split: torch exports `chunk` as slices of the data (and of its shape)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep, work = x.chunk(2, dim=1)
        return torch.cat([keep, torch.relu(work)], dim=1)


def test_slicing_data_is_a_copy_and_slicing_a_shape_is_free():
    ops = onnx_ops(onnx_bytes(HalfAndHalf().eval(), (torch.randn(1, 16, 8, 8),))).check()
    copies = sorted(op["numel"] for op in ops if op.kind == "shuffle")
    assert copies == [512, 512, 1024], "two halves sliced out, one concatenated; the shape arithmetic costs nothing"


def test_softmax_attention_is_recognised_as_one_op():
    ops = onnx_ops(onnx_bytes(Attention().eval(), (torch.randn(1, 10, 32),))).check()
    attention = [op for op in ops if op.kind == "attention"]
    assert len(attention) == 1
    assert (attention[0]["n_q"], attention[0]["n_kv"], attention[0]["heads"], attention[0]["head_dim"]) == (10, 10, 4, 8)
    assert sum(op.kind == "linear" for op in ops) == 2 and total_macs(ops) > 0


def test_an_operator_without_a_cost_is_named_not_guessed():
    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 100])],
                              [helper.make_tensor_value_info("values", onnx.TensorProto.FLOAT, [1, 5]),
                               helper.make_tensor_value_info("indices", onnx.TensorProto.INT64, [1, 5])],
                              [helper.make_tensor("k", onnx.TensorProto.INT64, [1], [5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedOpError, match="TopK ×1"):
        hwnas.predict_onnx(model.SerializeToString(), "gold-6240")


def test_a_dynamic_batch_is_priced_at_one_and_another_symbolic_axis_is_named(tmp_path):
    with torch.no_grad():
        torch.onnx.export(Block().eval(), (torch.randn(2, 3, 32, 32),), tmp_path / "b.onnx", dynamo=False, input_names=["input"],
                          dynamic_axes={"input": {0: "batch"}})
        torch.onnx.export(Attention().eval(), (torch.randn(1, 10, 32),), tmp_path / "s.onnx", dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "batch", 1: "length"}})
    fixed = onnx_ops(onnx_bytes(Block().eval(), (torch.randn(1, 3, 32, 32),))).check()
    assert [op.macs for op in onnx_ops(tmp_path / "b.onnx").check()] == [op.macs for op in fixed]
    with pytest.raises(DataFileError, match="input 'x' has the symbolic axis 'length'"):
        onnx_ops(tmp_path / "s.onnx")


def test_predict_model_on_a_shipped_op_level_profile():
    explanation = hwnas.predict_model(Block(), torch.randn(1, 3, 32, 32), "gold-6240")
    shares = explanation.to_dict()["share"]
    assert explanation.ms > 0 and sum(shares.values()) == pytest.approx(1.0)
    assert explanation.ms == pytest.approx(explanation.overhead_ms + sum(ms for ms, _ in explanation.classes.values()))
    with pytest.raises(OutOfDomainError, match="op class 'conv2d-dw-k5' has no basis in profile 'xeon'"):
        hwnas.predict_model(Block(), torch.randn(1, 3, 32, 32), "xeon")  # HAT's transformers ran no depthwise conv


def _hwnas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwnas", *args], capture_output=True, text=True, timeout=600)


def test_kernel_profile_and_the_predict_command(tmp_path):
    model = tmp_path / "block.onnx"
    model.write_bytes(onnx_bytes(Block().eval(), (torch.randn(1, 3, 32, 32),)))
    out = tmp_path / "kernels"
    measured = _hwnas("profile", "measure", "--kernels", "-n", "60", "--repeats", "3", "--warmup", "1", "--out", str(out))
    assert measured.returncode == 0, measured.stderr
    profile = get_profile(out)
    assert profile.domain["features"] == "op-level-v1" and profile.domain["fusion"] == "onnxruntime"
    assert profile.n_measurements == 60 + 20 + 1 and profile.validation["empty_model_ms"] > 0  # kernels, blocks, empty
    alone = profile.domain["alone_costs"]
    assert set(alone) == {"dense-conv", "depthwise-conv", "matmul", "elementwise"}
    assert all(cost >= 0 for family in alone.values() for cost in family.values())
    assert any(family["per_element_ns"] > 0 for family in alone.values()), "a lone kernel pays for what it moves"
    done = _hwnas("predict", str(model), "--device", str(out), "--explain", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["latency_ms"] > 0 and result["explain"]["classes"]
    assert _hwnas("predict", str(tmp_path / "missing.onnx"), "--device", str(out)).returncode == 2
    (tmp_path / "bad.onnx").write_bytes(b"not a model at all")
    bad = _hwnas("predict", str(tmp_path / "bad.onnx"), "--device", str(out))
    assert bad.returncode == 2 and "not an ONNX model" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    spaced = _hwnas("profile", "measure", "--kernels", "--space", "emov2", "--out", str(tmp_path / "x"))
    assert spaced.returncode == 2 and "--kernels" in spaced.stderr
