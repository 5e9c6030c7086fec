"""Timing forward passes: whole extracted subnets and single ops, on this CPU or a local CUDA GPU.

A measurement is `warmup` untimed calls, then `repeats` timed ones reduced by a statistic (median by
default; `min` where other processes load the machine, since preemption only ever adds time). Subnets
are timed in interleaved rounds of one call each, so every subnet's samples spread over the whole
session and a slow spell of the machine lands on all of them alike instead of on a few; the rounds may
run in blocks some seconds apart, so the samples also span several of the machine's spells. On a GPU each
call ends with `torch.cuda.synchronize()`, so the wall time covers the kernels, not only their launch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from hwnas.errors import MeasurementError
from hwnas.hw_profiles._runtimes import SDPA, make_runner

STATISTICS: dict[str, Callable[[list[float]], float]] = {"median": statistics.median, "min": min}
BENCHED = ("linear", "attention", "conv1d", "conv2d")


def time_call(fn: Callable[[], Any], warmup: int, repeats: int) -> list[float]:
    """Wall times (ms) of `repeats` calls of `fn` after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


class Threads:
    """torch's intra-op threads fixed to `threads` inside the block, restored after."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __enter__(self) -> None:
        self.saved = torch.get_num_threads()
        torch.set_num_threads(self.threads)

    def __exit__(self, *exc: Any) -> None:
        torch.set_num_threads(self.saved)


def _op_module(op: Any) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]] | None:
    """A module running one op alone, with random inputs of its shapes (None for kinds not benchmarked)."""
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


def benchmarked_ops(space: Any, archs: Sequence[Any], shape: tuple[int, ...], max_ops: int = 60) -> list[tuple[Any, Any]]:
    """(op, (module, inputs)) for each distinct benchmarked op (by key) of `archs`, at most `max_ops` of them."""
    seen: dict[str, Any] = {}
    for arch in archs:
        for op in space.ops(arch, shape):
            if op.kind in BENCHED and op.key not in seen and len(seen) < max_ops:
                seen[op.key] = op
    out = []
    for op in seen.values():
        built = _op_module(op)
        if built is not None and not (op.kind == "attention" and op["attn"] != "softmax"):
            out.append((op, built))
    return out


def microbenchmarks(space: Any, archs: Sequence[Any], shape: tuple[int, ...], warmup: int, repeats: int,  # noqa: PLR0913
                    max_ops: int = 60, statistic: str = "median", runtime: str = "torch",
                    threads: int = 1, device: str = "cpu") -> tuple[list[Any], np.ndarray]:
    """Each distinct benchmarked op (by key) of `archs`, at most `max_ops` of them, and its `statistic` ms alone."""
    ops, ms = [], []
    with torch.inference_mode():
        for op, built in benchmarked_ops(space, archs, shape, max_ops):
            run = make_runner(*built, runtime, threads, device)
            ops.append(op)
            ms.append(STATISTICS[statistic](time_call(run, warmup, repeats)))
    return ops, np.array(ms)


def check_forward_latency(space: Any) -> None:
    """Refuse to time a space whose latency is not one forward pass (what hwnas times): its latency would not be
    what was measured."""
    if space.latency_workload is not None:
        raise MeasurementError(f"{space.label}'s latency is defined as: {space.latency_workload}; hwnas times one forward "
                               "pass, so it cannot measure that here (price it with a profile instead)")


def subnet_samples(space: Any, archs: Sequence[Any], shape: Sequence[int], warmup: int, repeats: int,  # noqa: PLR0913
                   runtime: str = "torch", threads: int = 1, device: str = "cpu", blocks: int = 1,
                   pause_s: float = 0.0) -> np.ndarray:
    """(archs, repeats) ms of one forward pass (batch 1) of each arch's extracted subnet; column r is round r.

    The rounds run in `blocks` blocks `pause_s` apart: a shared machine changes its speed (and not for every
    subnet alike) for seconds at a time, and a median over samples from several such spells describes the
    machine better than one spell does."""
    check_forward_latency(space)
    supernet = space.build_supernet().eval()
    inputs = space.example_input(1, tuple(shape))
    with torch.inference_mode():
        runners = [make_runner(supernet.extract(arch).eval(), inputs, runtime, threads, device) for arch in archs]
        return interleaved_samples(runners, warmup, repeats, blocks, pause_s)


def interleaved_samples(runners: Sequence[Callable[[], Any]], warmup: int, repeats: int, blocks: int = 1,
                        pause_s: float = 0.0) -> np.ndarray:
    """(runners, repeats) ms: `repeats` rounds of one call of each runner in turn, in `blocks` blocks `pause_s`
    apart, each block after a warm-up (`warmup` calls first, then at most 2). The measuring method of
    `subnet_samples`, shared by the measuring agent (`hwnas agent serve`)."""
    samples = np.zeros((len(runners), repeats))
    per_block = np.array_split(np.arange(repeats), max(1, min(blocks, repeats)))
    for b, rounds in enumerate(per_block):
        if b:
            time.sleep(pause_s)
        for run in runners:
            time_call(run, warmup if b == 0 else min(warmup, 2), 0)
        for r in rounds:
            for i, run in enumerate(runners):
                samples[i, r] = time_call(run, 0, 1)[0]
    return samples


def reduce_samples(samples: np.ndarray, statistic: str = "median") -> np.ndarray:
    """One latency per arch (row) of `subnet_samples`."""
    return np.array([STATISTICS[statistic](list(row)) for row in samples])


def measure_subnets(space: Any, archs: Sequence[Any], shape: Sequence[int], warmup: int, repeats: int,  # noqa: PLR0913
                    statistic: str = "median", runtime: str = "torch", threads: int = 1, device: str = "cpu",
                    blocks: int = 1, pause_s: float = 0.0) -> np.ndarray:
    """`statistic` ms of one forward pass (batch 1) of each arch's extracted subnet, in interleaved rounds."""
    return reduce_samples(subnet_samples(space, archs, shape, warmup, repeats, runtime, threads, device, blocks, pause_s),
                          statistic)
