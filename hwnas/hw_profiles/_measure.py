"""Measuring this machine: whole subnets and op microbenchmarks, timed under the device lock.

Timing: fixed torch threads, `warmup` untimed runs, then `repeats` timed runs; the median is the
latency (robust to the odd preemption). Microbenchmarks time each distinct linear / attention / conv
op of the sampled subnets alone; a kernel-level model (one regressor per op kind) fitted on them gives
each arch a summed kernel estimate. The arch-level model then learns non-negative costs of that sum
and of per-kind op counts, MACs, weights and output sizes from the whole-subnet medians.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hwnas.errors import MeasurementError, UnknownNameError
from hwnas.hw_profiles._common import split_indices, today
from hwnas.hw_profiles._lock import device_lock
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.hw_profiles._runtimes import RUNTIMES, SDPA, check_runtime, make_runner, runtime_version
from hwnas.predictors import KernelLevel, OpCostLinear, Predictor, Residual, metrics

FEATURE_SET = "torch-ops-v2"
#: Feature sets this code reads: v1 rows (profiles measured before the conv spaces' kinds were counted) and v2.
READABLE = ("torch-ops-v1", FEATURE_SET)
OP_KINDS = ("linear", "conv1d", "conv2d", "attention", "layernorm", "groupnorm", "act", "add", "embedding", "param", "pool",
            "batchnorm", "mul", "window_attention")  # the last three: the conv spaces (EMOv2, MobileDets)
BENCHED = ("linear", "attention", "conv1d", "conv2d")
DEVICES = ("local-cpu", "local-gpu")


def check_device(device: str, runtime: str) -> None:
    """Raise for a device or runtime this machine cannot measure, with the reason."""
    if device not in DEVICES:
        raise UnknownNameError("measurable device", device, DEVICES)
    if device == "local-gpu" and not torch.cuda.is_available():
        raise MeasurementError("device 'local-gpu' skipped: no CUDA GPU on this machine (torch.cuda.is_available() is False)")
    if device == "local-gpu":
        raise MeasurementError("device 'local-gpu': GPU measurement is not implemented yet; measure with --device local-cpu")
    if runtime not in RUNTIMES:
        raise UnknownNameError("runtime", runtime, RUNTIMES)
    check_runtime(runtime)


def _out_numel(op: Any) -> int:
    a = dict(op.attrs)
    if op.kind == "linear":
        return a["n"] * a["cout"]
    if op.kind == "attention":
        return a["n_q"] * a["n_kv"] * a["heads"]
    if op.kind in ("act", "add"):
        return a["numel"]
    if op.kind in ("layernorm", "embedding"):
        return a["n"] * a["dim"]
    if op.kind == "pool":
        return a["numel_out"]
    if op.kind == "param":
        return a["numel"]
    if op.kind == "groupnorm":
        return a["channels"] * a["length"]
    if op.kind == "batchnorm":
        return a["channels"] * a["h"] * a["w"]
    if op.kind == "mul":
        return a["numel"]
    if op.kind == "window_attention":
        return a["branches"] * a["windows"] * a["tokens"] * a["tokens"] * a["heads"]
    return op.macs // max(1, op.params)  # convs: output positions × cout ≈ MACs / weights-per-output


def op_features(op: Any) -> list[float]:
    """Physical features of one op for its kind's microbenchmark regressor."""
    return [1.0, float(op.macs), float(op.params), float(_out_numel(op))]


ROW_KINDS_V1 = ("linear", "attention", "layernorm", "act", "add", "conv1d", "conv2d")
ROW_KINDS = {"torch-ops-v1": ROW_KINDS_V1, FEATURE_SET: (*ROW_KINDS_V1, "batchnorm", "mul", "window_attention")}
ATTENTION_KINDS = ("softmax", "cosformer", "relative")  # eager implementations differ in kernel count


def _arch_row(ops: Sequence[Any], kernels: KernelLevel | None, row_kinds: Sequence[str]) -> list[float]:
    """[1, Σ kernel estimate (ms), op count, count per common kind and attention kind, attention MACs per
    attention kind, MACs, params, output elements]."""
    counts = dict.fromkeys(row_kinds, 0.0)
    attention = {k: [0.0, 0.0] for k in ATTENTION_KINDS}
    macs = params = outputs = 0.0
    for op in ops:
        if op.kind in counts:
            counts[op.kind] += 1
        if op.kind == "attention" and op["attn"] in attention:
            attention[op["attn"]][0] += 1
            attention[op["attn"]][1] += op.macs
        macs += op.macs
        params += op.params
        outputs += _out_numel(op)
    kernel_ms = 0.0
    if kernels is not None:
        benched = [op for op in ops if op.kind in kernels.models_]
        if benched:
            kernel_ms = float(kernels.predict(np.array([op_features(op) for op in benched]), kinds=[op.kind for op in benched]).sum())
    per_attention = [v for pair in attention.values() for v in pair]
    return [1.0, kernel_ms, float(len(ops)), *counts.values(), *per_attention, macs, params, outputs]


def ops_feature_rows(space: Any, archs: Sequence[Any], domain: dict[str, Any], kernels: KernelLevel | None = None) -> np.ndarray:
    """Arch-level rows (see `_arch_row`); ops of kinds outside `OP_KINDS` raise `OutOfDomainError`."""
    shape = tuple(domain.get("input_shape") or space.default_input_shape)
    unknown = {op.kind for arch in archs for op in space.ops(arch, shape)} - set(OP_KINDS)
    if unknown:
        from hwnas.errors import OutOfDomainError

        raise OutOfDomainError(f"op kind {sorted(unknown)[0]!r} is outside the torch-ops features: {', '.join(OP_KINDS)}")
    row_kinds = ROW_KINDS[domain.get("features", FEATURE_SET)]
    return np.array([_arch_row(space.ops(arch, shape), kernels, row_kinds) for arch in archs])


def time_call(fn: Any, warmup: int, repeats: int) -> list[float]:
    """Wall times (ms) of `repeats` calls of `fn` after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


STATISTICS = {"median": statistics.median, "min": min}


def _op_module(op: Any) -> tuple[Any, tuple[torch.Tensor, ...]] | None:
    a = dict(op.attrs)
    if op.kind == "linear":
        return torch.nn.Linear(a["cin"], a["cout"], bias=a["bias"]), (torch.randn(1, a["n"], a["cin"]),)
    if op.kind == "attention":
        h, d = a["heads"], a["head_dim"]
        q, k, v = torch.randn(1, h, a["n_q"], d), torch.randn(1, h, a["n_kv"], d), torch.randn(1, h, a["n_kv"], d)
        return SDPA(bool(a["causal"])), (q, k, v)
    if op.kind == "conv1d":
        conv = torch.nn.Conv1d(a["cin"], a["cout"], a["k"], a["stride"], a["padding"], groups=a["groups"], bias=a["bias"])
        return conv, (torch.randn(1, a["cin"], a["length"]),)
    if op.kind == "conv2d":
        conv = torch.nn.Conv2d(a["cin"], a["cout"], a["k"], a["stride"], a["padding"], groups=a["groups"], bias=a["bias"])
        return conv, (torch.randn(1, a["cin"], a["h"], a["w"]),)
    return None


def microbenchmarks(space: Any, archs: Sequence[Any], shape: tuple[int, ...], warmup: int, repeats: int,
                    max_ops: int = 60, statistic: str = "median", runtime: str = "torch",
                    threads: int = 1) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Median ms of each distinct benchmarked op (by key) of `archs`, at most `max_ops` of them."""
    seen: dict[str, Any] = {}
    for arch in archs:
        for op in space.ops(arch, shape):
            if op.kind in BENCHED and op.key not in seen and len(seen) < max_ops:
                seen[op.key] = op
    kinds, rows, ms = [], [], []
    with torch.inference_mode():
        for op in seen.values():
            built = _op_module(op)
            if built is None or (op.kind == "attention" and op["attn"] != "softmax"):
                continue
            run = make_runner(*built, runtime, threads)
            kinds.append(op.kind)
            rows.append(op_features(op))
            ms.append(STATISTICS[statistic](time_call(run, warmup, repeats)))
    return kinds, np.array(rows).reshape(-1, 4), np.array(ms)


def measure_subnets(space: Any, archs: Sequence[Any], shape: tuple[int, ...], warmup: int, repeats: int,
                    statistic: str = "median", runtime: str = "torch", threads: int = 1) -> np.ndarray:
    """Median (or `statistic`) ms of one forward pass (batch 1) of each arch's extracted subnet.

    `min` is the robust choice on a machine other processes load (preemption only ever adds time)."""
    reduce = STATISTICS[statistic]
    supernet = space.build_supernet().eval()
    inputs = space.example_input(1, shape)
    samples: list[list[float]] = [[] for _ in archs]
    rounds = max(1, repeats // 5)  # interleaved rounds: a slow spell of the machine hits every arch alike
    with torch.inference_mode():
        runners = [make_runner(supernet.extract(arch).eval(), inputs, runtime, threads) for arch in archs]
        for r in range(rounds):
            for i, run in enumerate(runners):
                samples[i] += time_call(run, warmup if r == 0 else 1, repeats // rounds)
    return np.array([reduce(s) for s in samples])


class _Threads:
    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __enter__(self) -> None:
        self.saved = torch.get_num_threads()
        torch.set_num_threads(self.threads)

    def __exit__(self, *exc: Any) -> None:
        torch.set_num_threads(self.saved)


def _kernel_model(kinds: list[str], rows: np.ndarray, ms: np.ndarray) -> KernelLevel | None:
    if not kinds:
        return None
    return KernelLevel(lambda kind: Residual(OpCostLinear(), None), widths={k: 4 for k in set(kinds)}).fit(rows, ms, kinds=kinds)


def arch_model() -> Predictor:
    return Residual(OpCostLinear(ridge=1e-4), None)


def measure_local_cpu(space: Any, n: int, runtime: str = "torch", threads: int = 1, seed: int = 0,  # noqa: PLR0913
                      warmup: int = 5, repeats: int = 30, lock_timeout_s: float = 600.0,
                      input_shape: Sequence[int] | None = None, statistic: str = "median") -> tuple[Profile, LatencyModel]:
    """Measure `n` random subnets of `space` (+ their ops) on this CPU and fit a profile."""
    check_device("local-cpu", runtime)
    if statistic not in STATISTICS:
        raise UnknownNameError("statistic", statistic, STATISTICS)
    if n < 5:
        raise MeasurementError(f"-n {n}: need at least 5 subnets to fit and validate a predictor")
    shape = tuple(input_shape or space.default_input_shape)
    archs = list({a.id: a for a in (space.sample(seed * 100_003 + i) for i in range(n))}.values())
    started = time.time()
    with device_lock("local-cpu", lock_timeout_s), _Threads(threads):
        load_before = os.getloadavg()[0]
        kinds, op_rows, op_ms = microbenchmarks(space, archs, shape, warmup, repeats, statistic=statistic, runtime=runtime,
                                                threads=threads)
        measured = measure_subnets(space, archs, shape, warmup, repeats, statistic, runtime, threads)
    kernels = _kernel_model(kinds, op_rows, op_ms)
    domain = {"features": FEATURE_SET, "spaces": [{"space": space.name, "preset": space.preset}], "input_shape": list(shape),
              "op_kinds": sorted({op.kind for a in archs for op in space.ops(a, shape)})}
    X = ops_feature_rows(space, archs, domain, kernels)
    train, test = split_indices(len(archs))
    held = arch_model().fit(X[train], measured[train])
    validation = {"split": "random 80/20 of the measured subnets, numpy seed 0", "n_train": int(len(train)), "n_test": int(len(test)),
                  "metrics": metrics.summary(measured[test], held.predict(X[test])),
                  "microbenchmarks": {"n_ops": len(kinds), "kinds": sorted(set(kinds))}}
    aux = {"kernels": kernels} if kernels is not None else {}
    model = LatencyModel(FEATURE_SET, {"model": arch_model().fit(X, measured)}, aux)
    profile = Profile(
        device="local-cpu", kind="cpu", runtime=runtime_version(runtime), threads=threads, batch=1,
        provenance={"source": "measured on this machine by hwnas profile measure", "licence": "measurements made by the user",
                    "date": today(), "method": f"warmup {warmup}, {repeats} repeats in interleaved rounds, {statistic}, torch threads {threads}, exclusive device lock",
                    "statistic": statistic, "runtime_name": runtime, "load_average_1min": round(load_before, 2), "cpu_count": os.cpu_count(),
                    "seconds": round(time.time() - started, 1), "seed": seed},
        domain=domain, predictor={"kind": "residual", "file": "predictor.json", "parts": {"model": "op-cost-linear"},
                                  "aux": {"kernels": "kernel-level"} if aux else {}},
        validation=validation, n_measurements=len(archs) + len(kinds),
    )
    return profile, model


def validate_local(profile: Profile, space: Any, n: int = 30, seed: int = 1, warmup: int = 5, repeats: int = 30,
                   lock_timeout_s: float = 600.0) -> dict[str, Any]:
    """Measure `n` fresh random subnets (same statistic as the profile) and score the profile on them."""
    from hwnas.hw_profiles._predict import predict_archs_ms

    check_runtime(profile.provenance.get("runtime_name", "torch"))
    if profile.domain.get("features") not in READABLE:
        raise MeasurementError(f"profile {profile.device!r} was not measured on this machine ({profile.domain.get('features')}); "
                               "validate measures local-cpu profiles")
    shape = tuple(profile.domain.get("input_shape") or space.default_input_shape)
    archs = list({a.id: a for a in (space.sample(10_000_019 + seed * 100_003 + i) for i in range(n))}.values())
    predicted = predict_archs_ms(profile, space, archs)
    with device_lock("local-cpu", lock_timeout_s), _Threads(profile.threads or 1):
        load = os.getloadavg()[0]
        measured = measure_subnets(space, archs, shape, warmup, repeats, profile.provenance.get("statistic", "median"),
                                   profile.provenance.get("runtime_name", "torch"), profile.threads or 1)
    rows = [{"arch_id": a.id, "measured_ms": float(m), "predicted_ms": float(p), "error": float(p / m - 1)}
            for a, m, p in zip(archs, measured, predicted)]
    result = metrics.summary(measured, predicted)
    return {"profile": profile.device, "space": space.name, "preset": space.preset, **result,
            "load_average_1min": round(load, 2), "cpu_count": os.cpu_count(), "archs": rows}
