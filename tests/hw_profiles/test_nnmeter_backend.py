"""nn-Meter backend: our subnet → nn-Meter IR conversion, the missing-files error, and (when nn-Meter's
predictor files are on this machine) its predictions against ours."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from hwnas.errors import HwnasError, ProfileError
from hwnas.search_spaces import get_space

pytest.importorskip("onnx")
backend = pytest.importorskip("hwnas.hw_profiles.nnmeter_backend")
needs_nnmeter_package = pytest.mark.skipif(__import__("importlib").util.find_spec("nn_meter") is None,
                                           reason="nn-Meter is not installed (pip install 'hwnas[nnmeter]')")


@pytest.fixture(scope="module")
def tiny_ir():
    space = get_space("emov2", "tiny")
    arch = space.max_arch()
    return space, arch, backend.subnet_to_nnmeter_ir(space, arch)


def test_ir_has_every_conv_and_linear_with_nhwc_shapes(tiny_ir):
    space, arch, ir = tiny_ir
    ops = space.ops(arch)
    convs = [op for op in ops if op.kind == "conv2d"]
    nodes = [v["attr"] for v in ir.values() if v["attr"].get("type") == "Conv"]
    assert len(nodes) == len(convs) == sum(op.kind == "conv2d" for op in ops)
    # NHWC, as nn-Meter's TFLite kernels read them: (cout, groups, k, stride, output h) of every conv
    expected = collections.Counter((op["cout"], op["groups"], op["k"], op["stride"], (op["h"] + 2 * op["padding"] - op["k"]) // op["stride"] + 1)
                                   for op in convs)
    got = collections.Counter((n["output_shape"][0][3], n["attr"]["group"], n["attr"]["kernel_shape"][0], n["attr"]["strides"][0],
                               n["output_shape"][0][1]) for n in nodes)
    assert got == expected
    first = next(n for n in nodes if n["input_shape"][0][3] == 3)
    assert first["input_shape"][0] == [1, 32, 32, 3] and first["output_shape"][0][1:3] == [16, 16]
    assert sum(v["attr"].get("type") == "Gemm" for v in ir.values()) == sum(op.kind == "linear" for op in ops) == 1
    attention_blocks = sum(h > 0 for s in ("s3", "s4") for h in arch[f"{s}_heads"])
    assert sum(v["attr"].get("type") == "Softmax" for v in ir.values()) == 2 * attention_blocks  # two window branches each


def test_ir_edges_are_consistent_and_json(tiny_ir):
    _, _, ir = tiny_ir
    for name, node in ir.items():
        for src in node["inbounds"]:
            assert name in ir[src]["outbounds"]
        for dst in node["outbounds"]:
            assert dst not in ir or name in ir[dst]["inbounds"]  # nn-Meter lists sibling Slice tensors too
    assert json.loads(json.dumps(ir)) == ir  # nn-Meter reads it as JSON (model_type "nnmeter-ir")


def test_ir_equals_nnmeters_own_onnx_converter(tmp_path, monkeypatch):
    """Node for node what nn-Meter's ONNX converter writes (when nn-Meter imports: 2.0 needs setuptools<81)."""
    monkeypatch.setenv("HOME", str(tmp_path))  # importing nn-Meter may write ~/.nn_meter/config
    try:
        from nn_meter.ir_converter.onnx_converter import OnnxConverter
    except ImportError as exc:
        pytest.skip(f"nn-Meter's converter is not importable here ({exc}); pip install 'hwnas[nnmeter]'")
    import onnx
    import torch

    for name, preset in (("emov2", "tiny"), ("mobiledets", "tiny")):
        space = get_space(name, preset)
        subnet = space.build_supernet().eval().extract(space.sample(1)).eval()
        model = onnx.load_from_string(backend._onnx_bytes(subnet, torch.zeros(1, *space.default_input_shape)))
        assert backend.onnx_to_nnmeter_ir(model) == OnnxConverter(model).convert()


def test_nnmeters_kernel_detector_reads_our_ir(tmp_path, monkeypatch):
    """nn-Meter's own kernel detector (default fusion rules: the device's rules ship with its predictor files)
    finds one conv kernel per full conv and one dwconv kernel per depthwise conv of the subnet, with its shapes."""
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        from nn_meter.kernel_detector import KernelDetector
    except ImportError as exc:
        pytest.skip(f"nn-Meter is not importable here ({exc}); pip install 'hwnas[nnmeter]'")
    rules = tmp_path / "fusion_rules.json"
    rules.write_text("{}")
    for name in ("mobiledets", "emov2"):
        space = get_space(name, "tiny")
        arch = space.sample(1)
        detector = KernelDetector(str(rules))
        detector.load_graph(backend.subnet_to_nnmeter_ir(space, arch))
        kernels = collections.Counter(k["op"] for k in detector.get_kernels())
        convs = [op for op in space.ops(arch) if op.kind == "conv2d"]
        assert kernels["conv"] == sum(op["groups"] == 1 for op in convs)
        assert kernels["dwconv"] == sum(op["groups"] > 1 for op in convs)
        first = next(k for k in detector.get_kernels() if k["op"] == "conv")
        assert first["input_tensors"] == [[1, 32, 32, 3]] and first["cout"] == convs[0]["cout"] and first["strides"] == [2, 2]


@needs_nnmeter_package
def test_missing_predictor_files_is_one_line_naming_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ProfileError) as info:
        backend.NnMeterPredictor("cortexA76cpu_tflite21")
    message = str(info.value)
    folder = tmp_path / ".nn_meter" / "data" / "predictor" / "cortexA76cpu_tflite21"
    assert "\n" not in message and str(folder) in message and "conv-bn-relu.pkl" in message and "unzip it into" in message
    assert not (tmp_path / ".nn_meter").exists()  # nothing written, nothing downloaded


@needs_nnmeter_package
def test_settings_data_folder_and_unknown_predictor(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".nn_meter" / "config").mkdir(parents=True)
    (tmp_path / ".nn_meter" / "config" / "settings.yaml").write_text(f"data_folder: {tmp_path / 'elsewhere'}\n")
    assert backend.data_folder() == tmp_path / "elsewhere"
    with pytest.raises(ProfileError, match="elsewhere/predictor/adreno640gpu_tflite21"):
        backend.check_predictor_files("adreno640gpu_tflite21")
    with pytest.raises(ProfileError, match="no predictor pixel9.*choose one of: .*cortexA76cpu_tflite21 v1.0"):
        backend.check_predictor_files("pixel9")


def test_missing_package_is_a_user_error(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setenv("HOME", str(tmp_path))

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nn_meter" else real(name, *a))
    with pytest.raises(HwnasError, match=r"pip install 'hwnas\[nnmeter\]'"):
        backend.predictor_configs()


@needs_nnmeter_package
def test_compare_with_phone_profile_when_files_are_present():
    """nn-Meter's Cortex-A76 (Pixel 4's CPU) predictor against our pixel4 block profile on EMOv2 subnets."""
    try:
        predictor = backend.NnMeterPredictor("cortexA76cpu_tflite21")
    except ProfileError as exc:
        pytest.skip(f"nn-Meter's predictor files are not on this machine: {exc}")
    try:
        predictor._load()
    except HwnasError as exc:
        pytest.skip(str(exc))
    from hwnas.hw_profiles import get_profile, predict_archs_ms

    space = get_space("emov2", "imagenet")
    archs = [space.named_arch(n) for n in ("emov2-1m", "emov2-2m", "emov2-5m")]
    theirs = np.array(predictor.predict_ms(space, archs))
    ours = predict_archs_ms(get_profile("pixel4"), space, archs)
    print("nn-Meter cortexA76cpu_tflite21 ms:", theirs.round(2), "hwnas pixel4 ms:", ours.round(2))
    assert np.all(np.diff(theirs) > 0) and np.all(np.diff(ours) > 0)  # both rank the published models by size


@needs_nnmeter_package
def test_evaluator_refuses_without_predictor_files(tmp_path, monkeypatch):
    from hwnas.evaluators.latency import NnMeterLatencyEvaluator

    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ProfileError, match=r"nn-Meter predictor cortexA76cpu_tflite21 v1.0 is not on this machine"):
        NnMeterLatencyEvaluator(get_space("emov2", "tiny"))


@needs_nnmeter_package
def test_a_complete_predictor_folder_passes_the_check(tmp_path, monkeypatch):
    """Exactly the files nn-Meter's config names are required: the kernel predictors and fusion_rules.json."""
    monkeypatch.setenv("HOME", str(tmp_path))
    config = backend.predictor_config("cortexA76cpu_tflite21")
    folder = tmp_path / ".nn_meter" / "data" / "predictor" / config["name"]
    folder.mkdir(parents=True)
    for kernel in config["kernel_predictors"]:
        (folder / f"{kernel}.pkl").write_bytes(b"")
    with pytest.raises(ProfileError, match=r"\(fusion_rules.json missing\)"):
        backend.check_predictor_files("cortexA76cpu_tflite21")
    (folder / "fusion_rules.json").write_text("{}")
    assert backend.check_predictor_files("cortexA76cpu_tflite21") == folder


def test_spec_names_nnmeter_predictor_as_device(tmp_path, monkeypatch):
    """`latency_ms@nnmeter:<predictor>` in a spec reaches the backend; without its package or files the
    experiment stops before storing anything, with the backend's one line behind the objective's place."""
    from hwnas.search import Experiment, SpecError, parse_spec

    monkeypatch.setenv("HOME", str(tmp_path))
    spec = parse_spec({
        "name": "nnmeter-device", "space": {"name": "emov2", "preset": "tiny"},
        "objectives": [{"metric": "latency_ms", "device": "nnmeter:cortexA76cpu_tflite21", "direction": "minimize"},
                       {"metric": "params_m", "direction": "minimize"}],
        "searcher": {"kind": "optuna", "sampler": "random"}, "budget": {"trials": 2}})
    storage = tmp_path / "s.db"
    with pytest.raises(SpecError) as info:
        Experiment(spec, f"sqlite:///{storage}")
    message = str(info.value)
    expected = "is not on this machine" if __import__("importlib").util.find_spec("nn_meter") else "pip install 'hwnas[nnmeter]'"
    assert message.startswith("objectives.0: ") and expected in message and "\n" not in message
    assert not storage.exists() or b"nnmeter-device" not in storage.read_bytes()
