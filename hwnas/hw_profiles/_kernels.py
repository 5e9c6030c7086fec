"""Kernel profiles: single ops measured over the shapes of common architectures, for pricing any model.

A space's own profile learns from its subnets; a model hwnas never built needs the device's cost of each
kind of kernel at the sizes such models use (nn-Meter samples kernels per device the same way). The sampler
draws convolutions (dense 3×3/5×5/7×7, pointwise, depthwise, grouped; stride 1 and 2; 7² to 112² inputs, 16 to
512 channels), linear layers (1 to 197 rows), softmax attention (49 to 197 tokens), norms, activations,
pooling, elementwise passes and permuting copies, each capped at `MAX_MACS`. All are timed in one session of
interleaved rounds (this machine or an agent), beside an empty model, whose time (the per-inference cost
every timing carries once) is the profile's overhead; each op class's unit costs are fitted on its own
kernels (`fit_kernel_costs`, relative error), and a held-out 20 % of the kernels is the validation.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from hwnas.hw_profiles._common import split_indices, today
from hwnas.hw_profiles._op_level import FEATURE_SET, OpLevelDomain, calibration_domain
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.hw_profiles._runtimes import SDPA
from hwnas.predictors import OpCostLinear, metrics
from hwnas.search_spaces import _ops as ops_lib

#: Largest kernel sampled (MACs): bigger ones take seconds each on a small CPU and add little.
MAX_MACS = 400e6
CHANNELS = (16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512)
SIZES = (7, 14, 28, 56, 112)
ACTIVATION_MODULES: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "silu": nn.SiLU,
    "tanh": nn.Tanh, "softmax": lambda: nn.Softmax(dim=-1),
}

Kernel = tuple[Any, nn.Module, tuple[torch.Tensor, ...]]


class _Binary(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b if self.kind == "add" else a * b


class _Transpose(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).contiguous()


def _conv(rng: random.Random) -> Kernel | None:
    kind = rng.choice(("dense", "dense", "pw", "pw", "dw", "dw", "group"))
    k = {"pw": 1, "dense": rng.choice((3, 3, 3, 5, 7)), "dw": rng.choice((3, 3, 5, 7)), "group": 3}[kind]
    cin, hw, stride = rng.choice(CHANNELS), rng.choice(SIZES), rng.choice((1, 1, 1, 2))
    cout = cin if kind in ("dw", "group") else rng.choice(CHANNELS)
    if kind == "dense" and k == 7 and rng.random() < 0.5:  # a stem: 3 channels in at a large input
        cin, hw, stride = 3, rng.choice((112, 160, 224)), 2
    groups = cin if kind == "dw" else (rng.choice((2, 4, 8, 16)) if kind == "group" else 1)
    if cin % groups or cout % groups:
        return None
    op = ops_lib.conv2d(cin, cout, k, stride, (hw, hw), groups=groups, padding=k // 2, bias=True)
    module = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=True)
    return op, module, (torch.randn(1, cin, hw, hw),)


def _linear(rng: random.Random) -> Kernel:
    n, cin, cout = rng.choice((1, 1, 49, 64, 196, 197)), rng.choice((64, 128, 192, 256, 384, 512, 768, 1024, 1280)), \
        rng.choice((10, 64, 128, 192, 256, 384, 512, 768, 1000, 1024, 1536, 2048, 3072))
    return ops_lib.linear(n, cin, cout), nn.Linear(cin, cout), (torch.randn(1, n, cin),)


def _attention(rng: random.Random) -> Kernel:
    n, heads, head_dim = rng.choice((49, 64, 144, 196, 197)), rng.choice((1, 2, 3, 4, 6, 8, 12)), rng.choice((32, 64))
    q = torch.randn(1, heads, n, head_dim)
    return ops_lib.attention("softmax", n, n, heads, head_dim), SDPA(False), (q, q.clone(), q.clone())


def _elementwise(rng: random.Random) -> Kernel:
    kind = rng.choice(("act", "act", "act", "add", "mul", "layernorm", "pool", "pool", "shuffle", "batchnorm"))
    c, hw = rng.choice(CHANNELS), rng.choice(SIZES)
    x = torch.randn(1, c, hw, hw)
    if kind == "act":
        name = rng.choice(tuple(ACTIVATION_MODULES))
        return ops_lib.act(name, x.numel()), ACTIVATION_MODULES[name](), (x,)
    if kind in ("add", "mul"):
        op = ops_lib.add(x.numel()) if kind == "add" else ops_lib.mul(x.numel())
        return op, _Binary(kind), (x, torch.randn_like(x))
    if kind == "layernorm":
        n, dim = rng.choice((49, 196, 197, 3136)), rng.choice((64, 96, 192, 384, 768))
        return ops_lib.layernorm(n, dim), nn.LayerNorm(dim), (torch.randn(1, n, dim),)
    if kind == "batchnorm":
        return ops_lib.batchnorm(c, (hw, hw)), nn.BatchNorm2d(c).eval(), (x,)
    if kind == "shuffle":
        tokens = torch.randn(1, hw * hw, c)
        return ops_lib.shuffle(tokens.numel(), 1), _Transpose(), (tokens,)
    if rng.random() < 0.4:
        return ops_lib.pool("avg", x.numel(), c), nn.AdaptiveAvgPool2d(1), (x,)
    pool_kind = rng.choice(("avg", "max"))
    module = nn.MaxPool2d(3, 2, 1) if pool_kind == "max" else nn.AvgPool2d(3, 2, 1)
    out = module(x)
    return ops_lib.pool(pool_kind, x.numel(), out.numel()), module, (x,)


SAMPLERS: tuple[tuple[Callable[[random.Random], Kernel | None], float], ...] = (
    (_conv, 0.5), (_linear, 0.15), (_attention, 0.08), (_elementwise, 0.27))


def sample_kernels(n: int, seed: int = 0) -> list[Kernel]:
    """`n` distinct kernels over the families' shape ranges (conv-heavy, as vision models are)."""
    rng, kernels, seen = random.Random(seed), [], set()
    families, weights = zip(*SAMPLERS)
    while len(kernels) < n:
        kernel = rng.choices(families, weights)[0](rng)
        if kernel is None or kernel[0].macs > MAX_MACS or kernel[0].key in seen:
            continue
        seen.add(kernel[0].key)
        kernels.append(kernel)
    return kernels


class _Empty(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.0


def empty_kernel() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """The smallest model a runtime runs: its time is what every timing carries once."""
    return _Empty(), (torch.randn(1, 8),)


def fit_kernel_costs(rows: np.ndarray, kernel_ms: np.ndarray, empty_ms: float, ridge: float = 1e-3) -> OpCostLinear:
    """Unit costs (per op, per MAC, per output element) of each op class, fitted on its own kernels: each kernel
    is one op, so a class's costs are a small non-negative fit on relative error of the kernel's whole time
    (the empty model's plus its op's); the empty model's time is the per-inference constant (column 0)."""
    from scipy.optimize import nnls  # heavy: only fitting needs it

    unit = np.zeros(rows.shape[1])
    unit[0] = empty_ms
    for first in range(1, rows.shape[1], 3):
        cols = [first, first + 1, first + 2]
        held = np.where(rows[:, first] > 0)[0]
        if not len(held):
            continue
        features, measured = rows[np.ix_(held, cols)], kernel_ms[held]
        scale = features.max(axis=0)
        scale[scale == 0] = 1.0
        design = np.vstack([(features / scale) / measured[:, None], np.sqrt(ridge) * np.eye(3)])
        target = np.concatenate([1.0 - empty_ms / measured, np.zeros(3)])
        costs, _ = nnls(design, target)
        unit[cols] = costs / scale
    model = OpCostLinear()
    model.scale_, model.coef_, model.gain_ = np.ones(rows.shape[1]), unit, 1.0
    return model


def fit_kernel_profile(kernels: list[Kernel], kernel_ms: np.ndarray, empty_ms: float, device: str, kind: str,
                       runtime: str, fusion: str, provenance: dict[str, Any], threads: int) -> tuple[Profile, LatencyModel]:
    """The op-level profile of a device from its timed kernels (see the module docstring)."""
    ops = [[op] for op, _, _ in kernels]
    classes = calibration_domain(ops, "eager")  # each kernel is one op: nothing to fuse
    domain = OpLevelDomain.from_dict({"op_classes": classes, "fusion": "eager"}, device)
    rows = np.array([domain.row(op_list, overhead=1.0)[0] for op_list in ops])
    kernel_ms = np.asarray(kernel_ms, dtype=np.float64)
    train, test = split_indices(len(kernel_ms))
    held_out = fit_kernel_costs(rows[train], kernel_ms[train], empty_ms)
    validation = {"split": "random 80/20 of the measured kernels, numpy seed 0 (each a single op plus the empty model's "
                           "time)", "n_train": int(len(train)), "n_test": int(len(test)),
                  "metrics": metrics.summary(kernel_ms[test], held_out.predict(rows[test])), "empty_model_ms": float(empty_ms)}
    profile = Profile(
        device=device, kind=kind, runtime=runtime, threads=threads, batch=1, provenance=provenance,
        domain={"features": FEATURE_SET, "fusion": fusion, "spaces": [], "input": "any model (kernels)",
                "op_classes": classes},
        predictor={"kind": "op-cost-linear", "file": "predictor.json"}, validation=validation,
        n_measurements=len(kernels) + 1)
    return profile, LatencyModel(FEATURE_SET, {"model": fit_kernel_costs(rows, kernel_ms, empty_ms)})


def kernel_provenance(where: str, runtime: str, n: int, method: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    return {"source": f"{n} single kernels measured {where} by hwnas profile measure --kernels",
            "licence": "measurements made by the user", "date": today(), "method": method, **facts}
