"""Timing forward passes of extracted subnets (and of any module, for kernel profiles), on this CPU or a local CUDA GPU.

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
from hwnas.hw_profiles._runtimes import make_runner

STATISTICS: dict[str, Callable[[list[float]], float]] = {"median": statistics.median, "min": min}


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
