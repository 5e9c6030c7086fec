"""Measuring this machine into a profile, and validating a profile against fresh measurements.

`measure_profile` times random subnets of a space under the device's exclusive lock and fits an op-level
profile (`op-level-v1`, the format of every shipped device) on them: non-negative unit costs per op class, so
the machine prices every space whose ops its measurements cover, and the measured space's own correction
where cross-validation keeps it. (Ops timed alone are not a source here: alone, a module pays call overheads
it does not pay inside a network, which raised the composed cosFormer subnets of `benchmarks/coverage.py`'s
check (c) by ~15 %; `--kernels` profiles fit what a lone kernel pays beside its in-graph costs.) Profiles measured before
(`torch-ops-v1..3`) still price their space.

A shared machine's speed drifts (other tenants, clocks) for seconds at a time, and not for every subnet
alike. So the subnets' rounds run in blocks some seconds apart, for a median over several of those spells;
and the profile keeps a few *anchor* subnets with their measured latency, re-measured beside the fresh
subnets of every validation: a machine no longer in the profile's state is measured again, then refused,
not scored (a drift between the two sessions would show up as predictor error no predictor can remove).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hwnas.errors import MeasurementError, ProfileError, UnknownNameError
from hwnas.hw_profiles._calibrate_op_level import Measured, calibrate_measured
from hwnas.hw_profiles._common import DEFAULT_BLOCKS, DEFAULT_MAX_DRIFT, DEFAULT_PAUSE_S, DEVICES
from hwnas.hw_profiles._lock import device_lock
from hwnas.hw_profiles._op_level import FEATURE_SET as OP_LEVEL
from hwnas.hw_profiles._predict import predict_archs_ms
from hwnas.hw_profiles._profile import PROFILE_FILE, LatencyModel, Profile
from hwnas.hw_profiles._runtimes import RUNTIMES, check_runtime, make_runner, onnx_bytes, runtime_version
from hwnas.hw_profiles._timing import (
    STATISTICS,
    Threads,
    check_forward_latency,
    interleaved_samples,
    reduce_samples,
    subnet_samples,
)
from hwnas.hw_profiles._torch_features import READABLE
from hwnas.hw_profiles.agent_client import AgentClient, agent_subnet_samples, is_agent
from hwnas.predictors import metrics

N_ANCHORS = 8
SUBNETS = "subnets"  # the calibration source of a measured profile
LICENCE = "measurements made by the user"
RETRY_PAUSE_S = 2.0  # lets a slow spell of the machine pass before a validation session is measured again


def check_device(device: str, runtime: str) -> None:
    """Raise for a device or runtime this machine cannot measure, with the reason."""
    if is_agent(device):
        if runtime != "onnxruntime":
            raise MeasurementError(f"{device} times ONNX models in ONNX Runtime: use --runtime onnxruntime (the default there)")
        check_runtime(runtime)  # the subnets are exported to ONNX here
        return
    if device not in DEVICES:
        raise UnknownNameError("measurable device", device, DEVICES)
    if device == "local-gpu" and not torch.cuda.is_available():
        raise MeasurementError("device 'local-gpu' skipped: no CUDA GPU on this machine (torch.cuda.is_available() is False)")
    if runtime not in RUNTIMES:
        raise UnknownNameError("runtime", runtime, RUNTIMES)
    if device == "local-gpu" and runtime != "torch":
        raise MeasurementError(f"device 'local-gpu' is measured with --runtime torch (CUDA); {runtime!r} runs on the CPU here")
    check_runtime(runtime)


def _device_facts(device: str, client: AgentClient | None = None) -> dict[str, Any]:
    if client is not None:
        return {"agent": client.facts()}
    if device == "local-gpu":
        return {"gpu": torch.cuda.get_device_name(0), "cuda": torch.version.cuda}
    return {"cpu_count": os.cpu_count()}


def _pick_anchors(measured: np.ndarray, k: int = N_ANCHORS) -> list[int]:
    """Indices of `k` subnets spread evenly over the measured latency range."""
    order = np.argsort(measured)
    return sorted({int(order[round(q)]) for q in np.linspace(0, len(order) - 1, min(k, len(order)))})


def speed_drift(now: np.ndarray, then: np.ndarray) -> float:
    """How much slower (> 0) or faster (< 0) the machine runs the same subnets now: median ratio − 1."""
    return float(np.median(np.asarray(now) / np.asarray(then)) - 1.0)


def _agent(device: str, token_file: str | None) -> AgentClient | None:
    """The client of an `agent://` device (None for this machine's devices)."""
    return AgentClient.for_device(device, token_file) if is_agent(device) else None


def _subnet_samples(client: AgentClient | None, space: Any, archs: Sequence[Any], shape: tuple[int, ...],  # noqa: PLR0913
                    warmup: int, repeats: int, runtime: str, threads: int, device: str, blocks: int,
                    pause_s: float) -> np.ndarray:
    """`subnet_samples` on the agent's device when there is one, else on this machine's `device`."""
    if client is not None:
        return agent_subnet_samples(client, space, archs, shape, warmup, repeats, threads, blocks, pause_s)
    return subnet_samples(space, archs, shape, warmup, repeats, runtime, threads, DEVICES[device], blocks, pause_s)


def measure_profile(space: Any, n: int, device: str = "local-cpu", runtime: str = "torch", threads: int = 1,  # noqa: PLR0913
                    seed: int = 0, warmup: int = 5, repeats: int = 30, lock_timeout_s: float = 600.0,
                    statistic: str = "median", blocks: int = DEFAULT_BLOCKS, pause_s: float = DEFAULT_PAUSE_S,
                    token_file: str | None = None) -> tuple[Profile, LatencyModel]:
    """Measure `n` random subnets of `space` on `device` and fit an op-level profile on them; the subnets' rounds run
    in `blocks` blocks `pause_s` apart (validation measures the same way).

    `device` is `local-cpu`, `local-gpu`, or `agent://HOST:PORT` (a device running `hwnas agent serve`; ONNX
    Runtime there, the token from `token_file` or `HWNAS_AGENT_TOKEN`)."""
    check_device(device, runtime)
    client = _agent(device, token_file)
    if statistic not in STATISTICS:
        raise UnknownNameError("statistic", statistic, STATISTICS)
    if n < 5:
        raise MeasurementError(f"-n {n}: need at least 5 subnets to fit and validate a predictor")
    if blocks < 1 or pause_s < 0:
        raise MeasurementError(f"--blocks {blocks} / --pause {pause_s}: need at least one block and a pause of ≥ 0 s")
    check_forward_latency(space)
    torch_device = DEVICES.get(device, "cpu")
    shape = tuple(space.default_input_shape)
    facts = _device_facts(device, client)  # an agent that does not answer is found before anything is exported
    archs = list({a.id: a for a in (space.sample(seed * 100_003 + i) for i in range(n))}.values())
    started = time.time()
    with device_lock(device, lock_timeout_s), Threads(threads):
        load_before = None if client else os.getloadavg()[0]
        samples = _subnet_samples(client, space, archs, shape, warmup, repeats, runtime, threads, device, blocks, pause_s)
    measured = reduce_samples(samples, statistic)
    anchors = _pick_anchors(measured)
    sources = [Measured(SUBNETS, space, archs, measured, {"licence": LICENCE})]
    method = (f"warmup {warmup}, {repeats} interleaved rounds in {blocks} blocks {pause_s:g} s apart, {statistic}, "
              f"torch threads {threads}, exclusive device lock")
    source = _source(facts) if client else "measured on this machine by hwnas profile measure"
    profile, model = calibrate_measured(sources, device, "gpu" if device == "local-gpu" else "cpu",
                                        _agent_runtime(facts) if client else runtime_version(runtime, torch_device),
                                        1, source, method, fusion="onnxruntime" if runtime == "onnxruntime" else "eager")
    profile.threads = threads
    profile.provenance.update({"statistic": statistic, "runtime_name": runtime, "blocks": blocks, "pause_s": pause_s,
                               "load_average_1min": None if load_before is None else round(load_before, 2), **facts,
                               "seconds": round(time.time() - started, 1), "seed": seed})
    profile.domain["input_shape"] = list(shape)
    profile.validation.update({
        "session_drift": round(_session_drift(samples, statistic), 4),
        "anchors": [{"arch": archs[i].to_dict(), "ms": float(measured[i])} for i in anchors]})
    return profile, model


def measure_archs(space: Any, archs: Sequence[Any], device: str = "local-cpu", runtime: str = "torch",  # noqa: PLR0913
                  threads: int = 1,
                  warmup: int = 5, repeats: int = 30, statistic: str = "median", blocks: int = DEFAULT_BLOCKS,
                  pause_s: float = DEFAULT_PAUSE_S, token_file: str | None = None,
                  lock_timeout_s: float = 600.0) -> tuple[np.ndarray, dict[str, Any]]:
    """`statistic` ms of each of `archs` on `device` (this machine or an agent), measured as `measure_profile`
    measures, and the facts of the device (what a few-shot profile records)."""
    check_device(device, runtime)
    if statistic not in STATISTICS:
        raise UnknownNameError("statistic", statistic, STATISTICS)
    check_forward_latency(space)
    client = _agent(device, token_file)
    facts = _device_facts(device, client)
    shape = tuple(space.default_input_shape)
    with device_lock(device, lock_timeout_s), Threads(threads):
        samples = _subnet_samples(client, space, archs, shape, warmup, repeats, runtime, threads, device, blocks, pause_s)
    method = {"warmup": warmup, "repeats": repeats, "statistic": statistic, "blocks": blocks, "pause_s": pause_s,
              "threads": threads, "runtime": runtime, "device": device}
    return reduce_samples(samples, statistic), {**facts, "method": method}


def measure_kernels(n: int = 400, device: str = "local-cpu", runtime: str = "onnxruntime", threads: int = 1,  # noqa: PLR0913
                    warmup: int = 5, repeats: int = 20, statistic: str = "median", seed: int = 0,
                    token_file: str | None = None, lock_timeout_s: float = 600.0) -> tuple[Profile, LatencyModel]:
    """A kernel profile (`_kernels`): `n` single ops sampled over common architectures' shapes and n/3 random
    blocks, timed on `device` (this machine or an agent) in interleaved rounds beside an empty model, fitted
    op-level."""
    from hwnas.hw_profiles import _kernels  # the sampler builds torch modules: only this path needs it

    check_device(device, runtime)
    if statistic not in STATISTICS:
        raise UnknownNameError("statistic", statistic, STATISTICS)
    if n < 20:
        raise MeasurementError(f"-n {n}: a kernel profile needs at least 20 kernels (400 or more is better)")
    client = _agent(device, token_file)
    facts = _device_facts(device, client)
    kernels, blocks = _kernels.sample_kernels(n, seed), _kernels.sample_blocks(max(10, n // 3), seed)
    models = [(module, inputs) for _, module, inputs in kernels] + blocks + [_kernels.empty_kernel()]
    started = time.time()
    with device_lock(device, lock_timeout_s), Threads(threads), torch.inference_mode():
        if client is not None:
            samples = client.samples([onnx_bytes(m, i) for m, i in models], warmup, repeats, 1, 0.0, threads)
        else:
            runners = [make_runner(m, i, runtime, threads, DEVICES[device]) for m, i in models]
            samples = interleaved_samples(runners, warmup, repeats)
    ms = reduce_samples(samples, statistic)
    method = {"warmup": warmup, "repeats": repeats, "statistic": statistic, "threads": threads, "runtime": runtime,
              "seed": seed, "max_macs": _kernels.MAX_MACS, "seconds": round(time.time() - started, 1)}
    where = f"on {facts['agent'].get('host')} through hwnas agent serve" if client else "on this machine"
    block_ops = [_kernels.block_ops(module, inputs) for module, inputs in blocks]
    return _kernels.fit_kernel_profile(
        kernels, ms[:len(kernels)], float(ms[-1]), block_ops, ms[len(kernels):-1], device,
        "gpu" if device == "local-gpu" else "cpu", runtime_label(runtime, facts),
        "onnxruntime" if runtime == "onnxruntime" else "eager", _kernels.kernel_provenance(where, n, method, facts),
        threads)


def runtime_label(runtime: str, facts: dict[str, Any]) -> str:
    """How a measurement's runtime is named in a profile: the agent's ONNX Runtime, or this machine's runtime."""
    return _agent_runtime(facts) if "agent" in facts else runtime_version(runtime, "cuda" if "gpu" in facts else "cpu")


def _agent_runtime(facts: dict[str, Any]) -> str:
    agent = facts["agent"]
    return f"onnxruntime {agent.get('onnxruntime')} (CPUExecutionProvider) on {agent.get('cpu')}"


def _source(facts: dict[str, Any]) -> str:
    return f"measured on {facts['agent'].get('host')} through hwnas agent serve, by hwnas profile measure"


def _session_drift(samples: np.ndarray, statistic: str) -> float:
    """Speed of the session's second half of rounds against its first (how much the machine moved)."""
    half = samples.shape[1] // 2
    if not half:
        return 0.0
    return speed_drift(reduce_samples(samples[:, half:], statistic), reduce_samples(samples[:, :half], statistic))


def _anchor_archs(profile: Profile, space: Any) -> tuple[list[Any], np.ndarray]:
    """The profile's anchor subnets and their measured ms (profiles from before anchors have none)."""
    entries = profile.validation.get("anchors") or []
    archs, ms = [], []
    for i, entry in enumerate(entries):
        try:
            archs.append(space.validate(entry["arch"]))
            ms.append(float(entry["ms"]))
        except (KeyError, TypeError, ValueError) as exc:
            where = profile.path / PROFILE_FILE if profile.path else f"profile {profile.device!r}"
            raise ProfileError(f"{where}: field 'validation.anchors.{i}' is not an arch of {space.name}/{space.preset} "
                               f"with its ms ({exc})") from None
    return archs, np.array(ms)


def fresh_archs(space: Any, n: int, seed: int = 1) -> list[Any]:
    """The `n` (distinct) random subnets validation seed `seed` measures: seeds disjoint from `measure_profile`'s."""
    return list({a.id: a for a in (space.sample(10_000_019 + seed * 100_003 + i) for i in range(n))}.values())


def validate_local(profile: Profile, space: Any, n: int = 30, seed: int = 1, warmup: int = 5, repeats: int = 30,  # noqa: PLR0913
                   lock_timeout_s: float = 600.0, max_drift: float = DEFAULT_MAX_DRIFT, attempts: int = 3,
                   device: str | None = None, token_file: str | None = None) -> dict[str, Any]:
    """Measure `n` fresh random subnets (same statistic, runtime and device as the profile) and score the
    profile on them. The profile's anchors are measured in the same session; while they ran more than
    `max_drift` slower or faster than in the profile, the session is measured again (at most `attempts`
    sessions, then `MeasurementError`): the score should judge the predictor, not the machine's mood. The
    predictions are made before any measuring, and whether a session is kept never looks at them.

    A profile measured through an agent is validated on it (`device`: the agent's address now, if it moved)."""
    runtime = profile.provenance.get("runtime_name", "torch")
    measured_here = profile.device in DEVICES or is_agent(profile.device)
    features = profile.domain.get("features")
    # op-level profiles are also fitted on public data and on kernels (--kernels): only `measure_profile`'s keep a runtime
    of_subnets = features in READABLE or (features == OP_LEVEL and "runtime_name" in profile.provenance)
    if not of_subnets or not measured_here:
        raise MeasurementError(f"profile {profile.device!r} was not measured on subnets by hwnas profile measure "
                               f"({features}); validate measures the local-cpu, local-gpu and agent:// profiles it writes "
                               "(a --kernels profile is checked on models: hwnas predict MODEL.onnx)")
    device = device or profile.device
    if is_agent(device) != is_agent(profile.device):
        raise MeasurementError(f"profile {profile.device!r} cannot be validated on {device!r}: "
                               "measure and validate on the same device")
    check_device(device, runtime)
    client = _agent(device, token_file)
    shape = tuple(profile.domain.get("input_shape") or space.default_input_shape)
    archs = fresh_archs(space, n, seed)
    predicted = predict_archs_ms(profile, space, archs)
    anchors, anchor_ms = _anchor_archs(profile, space)
    attempts = max(1, attempts)
    statistic, blocks = profile.provenance.get("statistic", "median"), int(profile.provenance.get("blocks", 1))
    pause_s, threads = float(profile.provenance.get("pause_s", 0.0)), profile.threads or 1
    for attempt in range(1, attempts + 1):
        with device_lock(device, lock_timeout_s), Threads(threads):
            load = None if client else os.getloadavg()[0]
            timed = reduce_samples(_subnet_samples(client, space, archs + anchors, shape, warmup, repeats, runtime, threads,
                                                   device, blocks, pause_s), statistic)
        measured, drift = timed[:len(archs)], speed_drift(timed[len(archs):], anchor_ms) if anchors else None
        if drift is None or abs(drift) <= max_drift:
            break
        if attempt == attempts:
            raise MeasurementError(
                f"this machine, against the {len(anchors)} anchor subnets of profile {profile.device!r} (measured "
                f"{profile.provenance.get('date')}), in {attempts} sessions, ran {abs(drift):.0%} "
                f"{'slower' if drift > 0 else 'faster'} (limit {max_drift:.0%}); a score now would measure the machine's "
                "state, not the predictor: validate again when the machine is as quiet as when it was measured, or pass "
                f"--max-drift {min(1.0, abs(drift) + 0.05):.2f} to accept it")
        time.sleep(RETRY_PAUSE_S)
    rows = [{"arch_id": a.id, "measured_ms": float(m), "predicted_ms": float(p), "error": float(p / m - 1)}
            for a, m, p in zip(archs, measured, predicted)]
    result = metrics.summary(measured, predicted)
    return {"profile": profile.device, "space": space.name, "preset": space.preset, **result,
            "anchor_drift": None if drift is None else round(drift, 4), "sessions": attempt,
            "load_average_1min": None if load is None else round(load, 2), **_device_facts(device, client), "archs": rows}
