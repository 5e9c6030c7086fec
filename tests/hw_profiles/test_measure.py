"""Measuring this CPU: a small real measurement, the exclusive device lock, and what cannot be measured."""

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from hwnas.errors import MeasurementError, ProfileError, UnknownNameError
from hwnas.hw_profiles import load_profile, predict_archs_ms, save_profile
from hwnas.hw_profiles._lock import device_lock, lock_path
from hwnas.hw_profiles._measure import N_ANCHORS, check_device, measure_profile, validate_local
from hwnas.hw_profiles._timing import time_call
from hwnas.search_spaces import get_space


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_LOCK_DIR", str(tmp_path / "locks"))


def test_time_call_counts_repeats_and_measures_real_time():
    calls = []
    samples = time_call(lambda: (calls.append(1), time.sleep(0.002)), warmup=2, repeats=4)
    assert len(calls) == 6 and len(samples) == 4 and all(2.0 <= s < 200 for s in samples)


def test_small_real_measurement_fits_saves_and_validates(tmp_path):
    space = get_space("mixed-attention", "tiny")
    threads_before = torch.get_num_threads()
    profile, model = measure_profile(space, n=10, warmup=2, repeats=5, statistic="min", pause_s=0)
    assert torch.get_num_threads() == threads_before  # fixed threads only while measuring
    assert profile.device == "local-cpu" and profile.threads == 1 and profile.provenance["statistic"] == "min"
    assert profile.validation["n_train"] == 8 and profile.validation["n_test"] == 2 and profile.validation["metrics"]["n"] == 2
    assert profile.domain["features"] == "op-level-v1" and set(profile.validation["per_source"]) == {"subnets"}
    assert {"linear", "attention-softmax", "layernorm"} <= set(profile.domain["op_classes"])
    loaded = load_profile(save_profile(profile, model, tmp_path / "local"))
    archs = [space.sample(100 + i) for i in range(4)]
    ms = predict_archs_ms(loaded, space, archs)
    assert ms.shape == (4,) and np.all(ms > 0) and np.all(ms < 1000)
    report = validate_local(loaded, space, n=3, repeats=3, max_drift=1.0)
    assert report["n"] == 3 and len(report["archs"]) == 3 and report["archs"][0]["measured_ms"] > 0


@pytest.mark.parametrize("name", ["emov2", "mobiledets"])
def test_conv_spaces_are_measured_and_priced(name, tmp_path):
    """BatchNorm, gating products and window attention are op kinds of the measured profile's domain."""
    space = get_space(name, "tiny")
    profile, model = measure_profile(space, n=8, warmup=1, repeats=3, statistic="min", pause_s=0)
    loaded = load_profile(save_profile(profile, model, tmp_path / name))
    ms = predict_archs_ms(loaded, space, [space.min_arch(), space.max_arch()])
    assert np.all(ms > 0) and np.all(ms < 1000)


def test_validate_refuses_op_level_profiles_not_measured_on_subnets():
    """A kernel profile (or one fitted on public data) named local-cpu has no subnets or runtime to re-measure."""
    from dataclasses import replace

    from hwnas.hw_profiles import get_profile

    kernels_like = replace(get_profile("gold-6240"), device="local-cpu")
    with pytest.raises(MeasurementError, match="not measured on subnets by hwnas profile measure .op-level-v1.*hwnas predict"):
        validate_local(kernels_like, get_space("fbnet"), n=3)


def test_measure_rejects_too_few_and_bad_statistic():
    space = get_space("mixed-attention", "tiny")
    with pytest.raises(MeasurementError, match="at least 5 subnets"):
        measure_profile(space, n=2)
    with pytest.raises(UnknownNameError, match="unknown statistic 'mean'"):
        measure_profile(space, n=5, statistic="mean")


def test_devices_and_runtimes_that_cannot_be_measured():
    with pytest.raises(UnknownNameError, match="unknown measurable device 'pixel4'; choose one of: local-cpu, local-gpu"):
        check_device("pixel4", "torch")
    if not torch.cuda.is_available():
        with pytest.raises(MeasurementError, match="local-gpu' skipped: no CUDA GPU"):
            check_device("local-gpu", "torch")
    with pytest.raises(UnknownNameError, match="unknown runtime 'tflite'; choose one of: onnxruntime, torch"):
        check_device("local-cpu", "tflite")


def test_onnxruntime_without_its_packages_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(MeasurementError, match="needs the packages onnxruntime and onnx .onnxruntime is not installed"):
        check_device("local-cpu", "onnxruntime")


def test_onnxruntime_measures_the_same_subnets():
    from hwnas.hw_profiles._timing import measure_subnets

    space = get_space("mixed-attention", "tiny")
    archs = [space.min_arch(), space.max_arch()]
    ms = measure_subnets(space, archs, space.default_input_shape, warmup=2, repeats=5, statistic="min", runtime="onnxruntime")
    assert ms.shape == (2,) and np.all(ms > 0) and ms[0] < ms[1] * 3


def test_lock_is_exclusive_across_processes(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from hwnas.hw_profiles._lock import device_lock
        with device_lock("local-cpu"):
            print("held", flush=True)
            time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True, env={**__import__("os").environ})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(MeasurementError, match=rf"being measured by another process \(pid {holder.pid}"):
            with device_lock("local-cpu", timeout_s=0.2):
                pass
    finally:
        holder.kill()
        holder.wait()
    with device_lock("local-cpu", timeout_s=5) as path:  # released when the holder died
        assert path == lock_path("local-cpu") and path.read_text() == str(__import__("os").getpid())


def test_earlier_feature_sets_keep_their_row_layout():
    """Profiles measured before the conv kinds were counted (v1) or before op classes (v2) still get rows of their width."""
    from hwnas.hw_profiles._torch_features import FEATURE_SET, OP_CLASSES, ROW_KINDS, ops_feature_rows

    space = get_space("emov2", "tiny")
    archs = [space.min_arch(), space.max_arch()]
    v1 = ops_feature_rows(space, archs, {"features": "torch-ops-v1"})
    v2 = ops_feature_rows(space, archs, {"features": "torch-ops-v2"})
    v3 = ops_feature_rows(space, archs, {"features": FEATURE_SET})
    assert v2.shape[1] - v1.shape[1] == len(ROW_KINDS["torch-ops-v2"]) - len(ROW_KINDS["torch-ops-v1"]) == 3
    batchnorms = ROW_KINDS["torch-ops-v2"].index("batchnorm") + 3  # after [1, kernel ms, op count]
    assert np.all(v2[:, batchnorms] > 0)
    assert v3.shape[1] == 4 + 3 * len(OP_CLASSES)


def test_op_classes_tell_conv_kernels_apart():
    """A depthwise 5×5, a 1×1 and a dense 3×3 convolution run different kernels: each has its own class."""
    from hwnas.hw_profiles._torch_features import FEATURE_SET, OP_CLASSES, op_class, ops_feature_rows
    from hwnas.search_spaces import _ops as ops

    assert op_class(ops.conv2d(32, 32, 5, 1, (8, 8), groups=32)) == "conv2d-dw-k5"
    assert op_class(ops.conv2d(32, 64, 1, 1, (8, 8))) == "conv2d-pw"
    assert op_class(ops.conv2d(32, 64, 3, 2, (8, 8))) == "conv2d-k3"
    assert op_class(ops.conv2d(32, 64, 9, 1, (8, 8))) == "conv2d"
    assert op_class(ops.act("hswish", 100)) == "act-hswish" and op_class(ops.act("mish", 100)) == "act"
    space = get_space("mobiledets", "tiny")
    arch = space.max_arch()
    row = ops_feature_rows(space, [arch], {"features": FEATURE_SET})[0]
    counts = dict(zip(OP_CLASSES, row[4:4 + len(OP_CLASSES)]))
    convs = [op for op in space.ops(arch) if op.kind == "conv2d"]
    assert sum(v for k, v in counts.items() if k.startswith("conv2d")) == len(convs)
    assert counts["conv2d-pw"] == sum(op["k"] == 1 and op["groups"] == 1 for op in convs)
    assert row[3] == sum(op.params for op in space.ops(arch))


def test_profile_keeps_anchor_subnets_and_session_drift(tmp_path):
    space = get_space("mobiledets", "tiny")
    profile, model = measure_profile(space, n=12, warmup=1, repeats=3, statistic="min", pause_s=0)
    anchors = profile.validation["anchors"]
    assert len(anchors) == N_ANCHORS < 12 and abs(profile.validation["session_drift"]) <= 1.0
    loaded = load_profile(save_profile(profile, model, tmp_path / "p"))
    archs = [space.validate(entry["arch"]) for entry in loaded.validation["anchors"]]
    ms = sorted(entry["ms"] for entry in loaded.validation["anchors"])
    assert ms[0] < ms[-1] and len({a.id for a in archs}) == len(archs)  # spread over the measured range


def test_rounds_run_in_blocks_apart():
    """Blocks of rounds separated by a pause: every subnet gets every round, and the pause is really waited."""
    from hwnas.hw_profiles._timing import subnet_samples

    space = get_space("mixed-attention", "tiny")
    start = time.perf_counter()
    samples = subnet_samples(space, [space.min_arch(), space.max_arch()], space.default_input_shape, 1, 6, blocks=3, pause_s=0.2)
    assert time.perf_counter() - start >= 0.4 and samples.shape == (2, 6) and np.all(samples > 0)
    assert np.median(samples[0]) < np.median(samples[1])  # the smallest subnet runs faster than the largest
    profile, _ = measure_profile(space, n=6, warmup=1, repeats=4, statistic="min", blocks=2, pause_s=0)
    assert profile.provenance["blocks"] == 2 and "4 interleaved rounds in 2 blocks" in profile.provenance["method"]
    with pytest.raises(MeasurementError, match="need at least one block"):
        measure_profile(space, n=6, blocks=0)


def test_validation_refuses_a_machine_unlike_the_profiles(tmp_path):
    """A profile whose anchors ran ten times as long (a slower machine) is not scored here unless the drift is allowed."""
    import yaml

    space = get_space("mixed-attention", "tiny")
    profile, model = measure_profile(space, n=6, warmup=1, repeats=3, statistic="min", pause_s=0)
    directory = save_profile(profile, model, tmp_path / "p")
    data = yaml.safe_load((directory / "profile.yaml").read_text())
    for entry in data["validation"]["anchors"]:
        entry["ms"] *= 10
    (directory / "profile.yaml").write_text(yaml.safe_dump(data))
    slower = load_profile(directory)
    with pytest.raises(MeasurementError, match=r"anchor subnets of profile 'local-cpu' .* in 2 sessions, ran \d+% faster \(limit 5%\)"):
        validate_local(slower, space, n=3, repeats=3, attempts=2)
    report = validate_local(slower, space, n=3, repeats=3, max_drift=1.0)
    assert -0.97 < report["anchor_drift"] < -0.6 and report["n"] == 3 and report["sessions"] == 1  # ≈ 1/10 − 1, give or take load
    data["validation"]["anchors"][0]["arch"]["depth"] = 99
    (directory / "profile.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=r"profile.yaml: field 'validation.anchors.0' is not an arch of mixed-attention/tiny"):
        validate_local(load_profile(directory), space, n=3, repeats=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine: the local-gpu profile path needs one")
def test_gpu_profile_is_measured_with_synchronisation(tmp_path):
    """On a CUDA machine: a local-gpu profile (torch CUDA, each call synchronised), saved, predicting and validated."""
    with pytest.raises(MeasurementError, match="local-gpu' is measured with --runtime torch"):
        check_device("local-gpu", "onnxruntime")
    space = get_space("mixed-attention", "tiny")
    profile, model = measure_profile(space, n=8, device="local-gpu", warmup=2, repeats=5, pause_s=0)
    assert profile.kind == "gpu" and "CUDA" in profile.runtime and profile.provenance["gpu"]
    loaded = load_profile(save_profile(profile, model, tmp_path / "gpu"))
    assert np.all(predict_archs_ms(loaded, space, [space.min_arch(), space.max_arch()]) > 0)
    report = validate_local(loaded, space, n=3, repeats=3, max_drift=1.0)
    assert report["profile"] == "local-gpu" and report["gpu"] and len(report["archs"]) == 3
