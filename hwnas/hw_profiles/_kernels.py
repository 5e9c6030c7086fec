"""Kernel profiles: single ops measured over the shapes of common architectures, for pricing any model.

A space's own profile learns from its subnets; a model hwnas never built needs the device's cost of each
kind of kernel at the sizes such models use (nn-Meter samples kernels per device the same way). The sampler
draws convolutions (dense 3×3/5×5/7×7, pointwise, depthwise, grouped; stride 1 and 2; 7² to 112² inputs, 16 to
512 channels), linear layers (1 to 197 rows), softmax attention (49 to 197 tokens), norms, activations,
pooling, elementwise passes and permuting copies, each capped at `MAX_MACS`. All are timed
in one session of interleaved rounds (this machine or an agent), beside an empty model and random blocks of
common motifs. A kernel alone pays what it does not inside a graph (ONNX Runtime reorders a lone conv's input
into its blocked layout and back, and hands its output over), so one fit over kernels and blocks (`fit_joint`,
non-negative, relative error) gives each op class its in-graph unit costs and each kernel family its cost of
being timed alone; the empty model, a block without ops, anchors the per-inference overhead. The validation
scores held-out blocks with everything fitted on the others.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from hwnas.hw_profiles._calibrate_op_level import family
from hwnas.hw_profiles._common import split_indices, today
from hwnas.hw_profiles._op_level import FEATURE_SET, OpLevelDomain, calibration_domain, out_elements
from hwnas.hw_profiles._profile import LatencyModel, Profile
from hwnas.hw_profiles._runtimes import SDPA
from hwnas.hw_profiles._torch_features import op_class, out_numel
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


# -- blocks: ops inside a graph ------------------------------------------------------------------------
# A kernel timed alone pays what it does not pay inside a model (the runtime's layout conversions around it,
# its output handed back): summed, single kernels overprice whole models by a third to three quarters here.
# Random blocks of the motifs architectures are made of, timed whole, say what the ops cost inside a graph:
# fitted with the kernels (`fit_joint`), they set each class's in-graph costs.


def _cna(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True,
         activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, activation()) if act else nn.Sequential(*layers)


class _Inverted(nn.Module):
    """Expand 1×1, depthwise k×k, optional squeeze-excite, project 1×1 (MobileNet, MnasNet), with ReLU, hard-swish
    and a hard-sigmoid gate (MobileNetV3) or SiLU and a sigmoid gate (EfficientNet)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, se: bool,
                 activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = _cna(cin, mid, 1, activation=activation) if expand > 1 else nn.Identity()
        self.dw = _cna(mid, mid, k, stride, groups=mid, activation=activation)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(mid, max(8, mid // 4), 1), nn.ReLU(),
                                nn.Conv2d(max(8, mid // 4), mid, 1),
                                nn.Sigmoid() if activation is nn.SiLU else nn.Hardsigmoid()) if se else None
        self.project = _cna(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(self.expand(x))
        y = y * self.se(y) if self.se is not None else y
        y = self.project(y)
        return x + y if self.residual else y


class _Residual(nn.Module):
    """Two 3×3 convs and a shortcut (ResNet), or 1×1, grouped 3×3, 1×1 (RegNet, ResNeXt)."""

    def __init__(self, cin: int, cout: int, stride: int, groups: int) -> None:
        super().__init__()
        if groups == 1:
            self.body = nn.Sequential(_cna(cin, cout, 3, stride), _cna(cout, cout, 3, act=False))
        else:
            self.body = nn.Sequential(_cna(cin, cout, 1), _cna(cout, cout, 3, stride, groups=groups),
                                      _cna(cout, cout, 1, act=False))
        self.skip = _cna(cin, cout, 1, stride, act=False) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class _ShuffleUnit(nn.Module):
    """ShuffleNetV2's unit: half the channels through 1×1, depthwise 3×3, 1×1, concatenated with the other
    half (stride 1) or with a strided depthwise branch (stride 2), then the channels shuffled."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        half = channels // 2
        branch_in = half if stride == 1 else channels
        self.branch = nn.Sequential(_cna(branch_in, half, 1), _cna(half, half, 3, stride, groups=half, act=False),
                                    _cna(half, half, 1))
        self.shortcut = (nn.Sequential(_cna(channels, channels, 3, stride, groups=channels, act=False), _cna(channels, half, 1))
                         if stride == 2 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            keep, work = x.chunk(2, dim=1)
            y = torch.cat([keep, self.branch(work)], dim=1)
        else:
            y = torch.cat([self.shortcut(x), self.branch(x)], dim=1)
        n, c, h, w = y.shape
        return y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


class EncoderLayer(nn.Module):
    """A pre-norm transformer encoder layer (ViT, DeiT), attention written out as it is exported."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.norm1, self.norm2 = heads, nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mixed = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1) @ v
        x = x + self.proj(mixed.transpose(1, 2).reshape(n, t, d))
        return x + self.mlp(self.norm2(x))


class _DepthwiseMlp(nn.Module):
    """Depthwise 7×7, LayerNorm, a 4× MLP, residual (ConvNeXt)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dw, self.norm = nn.Conv2d(dim, dim, 7, 1, 3, groups=dim), nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(self.dw(x).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)


def _block(rng: random.Random) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    kind = rng.choice(("inverted", "inverted", "residual", "residual", "encoder", "depthwise-mlp", "shuffle"))
    hw = rng.choice(SIZES[:4])
    if kind == "inverted":  # MobileNets and EfficientNets start theirs at 112×112
        cin, hw = rng.choice(CHANNELS[:9]), rng.choice(SIZES)
        module = _Inverted(cin, rng.choice(CHANNELS[:9]), rng.choice((3, 5, 7)), rng.choice((1, 1, 2)), rng.choice((1, 3, 4, 6)),
                           rng.random() < 0.5, rng.choice((nn.ReLU, nn.Hardswish, nn.SiLU)))
        return module, (torch.randn(1, cin, hw, hw),)
    if kind == "shuffle":
        channels = rng.choice((48, 96, 116, 176, 232))
        return _ShuffleUnit(channels, rng.choice((1, 1, 2))), (torch.randn(1, channels, min(hw, 56), min(hw, 56)),)
    if kind == "residual":
        cin, cout = rng.choice(CHANNELS[:11]), rng.choice(CHANNELS[:11])
        groups = rng.choice((1, 1, cout // 16)) if cout % 16 == 0 else 1
        return _Residual(cin, cout, rng.choice((1, 2)), max(1, groups)), (torch.randn(1, cin, min(hw, 28), min(hw, 28)),)
    if kind == "encoder":
        heads = rng.choice((1, 2, 3, 4, 6))
        dim, tokens = heads * rng.choice((32, 64)), rng.choice((49, 65, 197))
        return EncoderLayer(dim, heads), (torch.randn(1, tokens, dim),)
    dim = rng.choice((32, 48, 64, 96, 128, 192))
    return _DepthwiseMlp(dim), (torch.randn(1, dim, min(hw, 28), min(hw, 28)),)


def sample_blocks(n: int, seed: int = 0) -> list[tuple[nn.Module, tuple[torch.Tensor, ...]]]:
    """`n` random blocks of common motifs (inverted residual, residual, grouped residual, transformer encoder,
    depthwise MLP, ShuffleNet unit) at common sizes, each at most `MAX_MACS`, in eval mode."""
    from hwnas.search_spaces._ops import total_macs  # counted from the blocks' own ops (as they will be priced)

    rng, blocks = random.Random(seed + 1), []
    while len(blocks) < n:
        module, inputs = _block(rng)
        module.eval()
        if total_macs(block_ops(module, inputs)) <= MAX_MACS:
            blocks.append((module, inputs))
    return blocks


def block_ops(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> list[Any]:
    """A block's ops as `hwnas predict` sees a model's: exported to ONNX and mapped."""
    from hwnas.hw_profiles._runtimes import onnx_bytes  # the exporter every model goes through
    from hwnas.hw_profiles.onnx_ops import onnx_ops

    return onnx_ops(onnx_bytes(module, inputs)).check()


class _Empty(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.0


def empty_kernel() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """The smallest model a runtime runs: its time is what every timing carries once."""
    return _Empty(), (torch.randn(1, 8),)


#: A single kernel's weight in the joint fit against a block's (a block holds many ops; a kernel, one). Chosen on
#: held-out blocks over four measuring sessions of this CPU (0.3 to 2 tried; 0.5 scored them best).
KERNEL_WEIGHT = 0.5
#: The kernel families whose ops pay a layout cost when timed alone (`_calibrate_op_level.family`).
FAMILIES = ("dense-conv", "depthwise-conv", "matmul", "elementwise")


def moved_elements(op: Any) -> int:
    """Elements a lone op reads and writes: its inputs (a sum or product reads two, attention q, k and v) and its
    output."""
    a = dict(op.attrs)
    if op.kind == "conv2d":
        return int(a["cin"] * a["h"] * a["w"] + out_elements(op))
    if op.kind == "conv1d":
        return int(a["cin"] * a["length"] + out_elements(op))
    if op.kind == "linear":
        return int(a["n"] * (a["cin"] + a["cout"]))
    if op.kind == "attention":
        return int(2 * (a["n_q"] + a["n_kv"]) * a["heads"] * a["head_dim"])
    if op.kind == "pool":
        return int(a["numel_in"] + a["numel_out"])
    if op.kind in ("add", "mul"):
        return 3 * int(a["numel"])
    return 2 * int(out_numel(op))  # activations, norms, copies: read what they write


def alone_row(op: Any) -> np.ndarray:
    """What a kernel timed alone pays and the same op inside a graph does not, as features: per family, one call
    and the elements it moves (ONNX Runtime reorders a lone conv's input into its blocked layout and its output
    back, and hands the output over; inside a graph the layout carries from op to op)."""
    row = np.zeros(2 * len(FAMILIES))
    j = FAMILIES.index(family(op_class(op)))
    row[2 * j], row[2 * j + 1] = 1.0, moved_elements(op)
    return row


def fit_joint(kernel_rows: np.ndarray, kernel_ms: np.ndarray, block_rows: np.ndarray, block_ms: np.ndarray,
              ridge: float = 1e-3) -> tuple[OpCostLinear, np.ndarray]:
    """Unit costs of every op class inside a graph, and each family's cost of being timed alone, fitted on the
    single kernels and the blocks (the empty model is a block without ops) together: non-negative, on relative
    error. `kernel_rows` are the op-level rows with `alone_row` appended; `block_rows` the op-level rows.

    Kernels alone say what each class costs per op, MAC and output at every shape; blocks, timed whole, say what
    those ops cost where models run them. One fit over both keeps each class's costs where the blocks put them
    (a family-wide factor on kernel-only costs moved by a quarter between sessions of the same machine)."""
    from scipy.optimize import nnls  # heavy: only fitting needs it

    width = block_rows.shape[1]
    matrix = np.vstack([kernel_rows, np.hstack([block_rows, np.zeros((len(block_rows), kernel_rows.shape[1] - width))])])
    measured = np.concatenate([kernel_ms, block_ms])
    weight = np.concatenate([np.full(len(kernel_ms), KERNEL_WEIGHT), np.ones(len(block_ms))])
    scale = matrix.max(axis=0)
    scale[scale == 0] = 1.0
    design = np.vstack([(matrix / scale) / measured[:, None] * weight[:, None], np.sqrt(ridge) * np.eye(matrix.shape[1])])
    coef, _ = nnls(design, np.concatenate([weight, np.zeros(matrix.shape[1])]), maxiter=50 * matrix.shape[1])
    model = OpCostLinear()
    model.scale_, model.coef_, model.gain_ = scale[:width].copy(), coef[:width].copy(), 1.0
    return model, coef[width:] / scale[width:]


def fit_kernel_profile(kernels: list[Kernel], kernel_ms: np.ndarray, empty_ms: float, blocks: list[list[Any]],
                       block_ms: np.ndarray, device: str, kind: str, runtime: str, fusion: str, provenance: dict[str, Any],
                       threads: int) -> tuple[Profile, LatencyModel]:
    """The op-level profile of a device from its timed kernels and blocks (see the module docstring)."""
    classes = calibration_domain([[op] for op, _, _ in kernels] + blocks, fusion)
    domain = OpLevelDomain.from_dict({"op_classes": classes, "fusion": fusion}, device)
    kernel_ms = np.asarray(kernel_ms, dtype=np.float64)
    kernel_rows = np.array([domain.row([op], overhead=1.0)[0] for op, _, _ in kernels])
    alone_rows = np.array([alone_row(op) for op, _, _ in kernels])
    block_rows = np.array([domain.row(ops, overhead=1.0)[0] for ops in [*blocks, []]])  # the last: the empty model
    block_ms = np.append(np.asarray(block_ms, dtype=np.float64), empty_ms)

    def fit(kernel_part: np.ndarray, block_part: np.ndarray) -> tuple[OpCostLinear, np.ndarray]:
        return fit_joint(np.hstack([kernel_rows[kernel_part], alone_rows[kernel_part]]), kernel_ms[kernel_part],
                         block_rows[block_part], block_ms[block_part])

    train, test = split_indices(len(kernel_ms))
    block_train, block_test = split_indices(len(blocks))
    held_out, held_alone = fit(train, np.append(block_train, len(blocks)))
    validation = {
        "split": "random 80/20 of the measured kernels and of the blocks, numpy seed 0: fitted on 80 % of each, "
                 "scored on the other blocks",
        "n_train": int(len(train) + len(block_train) + 1), "n_test": int(len(block_test)),  # + the empty model
        "metrics": metrics.summary(block_ms[block_test], held_out.predict(block_rows[block_test])),
        "single_kernels": metrics.summary(kernel_ms[test], held_out.predict(kernel_rows[test]) + alone_rows[test] @ held_alone),
        "empty_model_ms": float(empty_ms), "n_blocks": len(blocks)}
    model, alone = fit(np.arange(len(kernels)), np.arange(len(block_ms)))
    alone_costs = {name: {"per_call_ms": round(float(alone[2 * j]), 6), "per_element_ns": round(float(alone[2 * j + 1]) * 1e6, 6)}
                   for j, name in enumerate(FAMILIES)}
    profile = Profile(
        device=device, kind=kind, runtime=runtime, threads=threads, batch=1, provenance=provenance,
        domain={"features": FEATURE_SET, "fusion": fusion, "spaces": [], "input": "any model (kernels)",
                "op_classes": classes, "alone_costs": alone_costs},
        predictor={"kind": "op-cost-linear", "file": "predictor.json"}, validation=validation,
        n_measurements=len(kernels) + len(blocks) + 1)
    return profile, LatencyModel(FEATURE_SET, {"model": model})


def kernel_provenance(where: str, n: int, method: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    return {"source": f"{n} single kernels measured {where} by hwnas profile measure --kernels",
            "licence": "measurements made by the user", "date": today(), "method": method, **facts}
