"""Latency of standard vision architectures hwnas never built, predicted from a kernel profile and measured.

A kernel profile of this CPU (`hwnas profile measure --kernels`, ONNX Runtime, one thread) is measured in the
same run, then each architecture below (random weights, batch 1, 224×224; defined here because PyPI's
torchvision and timm wheels need CUDA torch) is exported to ONNX, timed in ONNX Runtime (warm-up, then the
median of interleaved rounds) and priced by `hwnas.predict_onnx`. Goal: ≥ 80 % of the models within ±10 %.
Prints a table and, with --json, writes benchmarks/results/any_model.json (per-model errors inside).

    OMP_NUM_THREADS=1 python benchmarks/any_model.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.hw_profiles import save_profile
from hwnas.hw_profiles._kernels import EncoderLayer as TransformerEncoderLayer  # the pre-norm ViT layer
from hwnas.hw_profiles._measure import measure_kernels
from hwnas.hw_profiles._runtimes import make_runner, onnx_bytes
from hwnas.hw_profiles._timing import interleaved_samples
from hwnas.hw_profiles.model_latency import predict_onnx

RESULTS = Path(__file__).resolve().parent / "results"


def cbr(
    cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: type[nn.Module] | None = nn.ReLU
) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


class Basic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(cbr(cin, cout, 3, stride), cbr(cout, cout, 3, 1, act=None))
        self.skip = cbr(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def resnet18() -> nn.Module:
    layers, cin = [cbr(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000))


class SE(nn.Module):
    def __init__(self, c: int, squeeze: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, squeeze, 1), nn.ReLU(), nn.Conv2d(squeeze, c, 1), nn.Hardsigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x)


class MBConv(nn.Module):
    """Inverted residual: expand 1×1, depthwise k×k, optional squeeze-excite, project 1×1."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: float, se: bool, act: type[nn.Module]) -> None:
        super().__init__()
        mid = int(round(cin * expand))
        layers: list[nn.Module] = [cbr(cin, mid, 1, act=act)] if mid != cin else []
        layers += [cbr(mid, mid, k, stride, groups=mid, act=act)] + ([SE(mid, max(8, mid // 4))] if se else [])
        layers += [cbr(mid, cout, 1, act=None)]
        self.body, self.residual = nn.Sequential(*layers), stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


def mbnet(
    stem: int,
    stages: list[tuple[int, int, int, int, float, bool, type[nn.Module]]],
    head: int,
    head_act: type[nn.Module] = nn.ReLU6,
) -> nn.Module:
    """(cout, repeats, k, first stride, expansion, SE, activation) per stage, as the MobileNet family writes them."""
    layers, cin = [cbr(3, stem, 3, 2, act=head_act)], stem
    for cout, repeats, k, stride, expand, se, act in stages:
        for i in range(repeats):
            layers.append(MBConv(cin, cout, k, stride if i == 0 else 1, expand, se, act))
            cin = cout
    return nn.Sequential(*layers, cbr(cin, head, 1, act=head_act), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(head, 1000))


def mobilenet_v2() -> nn.Module:
    r6 = nn.ReLU6
    return mbnet(
        32,
        [
            (16, 1, 3, 1, 1, False, r6),
            (24, 2, 3, 2, 6, False, r6),
            (32, 3, 3, 2, 6, False, r6),
            (64, 4, 3, 2, 6, False, r6),
            (96, 3, 3, 1, 6, False, r6),
            (160, 3, 3, 2, 6, False, r6),
            (320, 1, 3, 1, 6, False, r6),
        ],
        1280,
    )


def mobilenet_v3_small() -> nn.Module:
    hs, re = nn.Hardswish, nn.ReLU
    return mbnet(
        16,
        [
            (16, 1, 3, 2, 1, True, re),
            (24, 1, 3, 2, 4.5, False, re),
            (24, 1, 3, 1, 3.67, False, re),
            (40, 3, 5, 2, 6, True, hs),
            (48, 2, 5, 1, 3, True, hs),
            (96, 3, 5, 2, 6, True, hs),
        ],
        576,
        nn.Hardswish,
    )


def efficientnet_b0() -> nn.Module:
    si = nn.SiLU
    return mbnet(
        32,
        [
            (16, 1, 3, 1, 1, True, si),
            (24, 2, 3, 2, 6, True, si),
            (40, 2, 5, 2, 6, True, si),
            (80, 3, 3, 2, 6, True, si),
            (112, 3, 5, 1, 6, True, si),
            (192, 4, 5, 2, 6, True, si),
            (320, 1, 3, 1, 6, True, si),
        ],
        1280,
        nn.SiLU,
    )


def mnasnet_a1() -> nn.Module:
    re = nn.ReLU
    return mbnet(
        32,
        [
            (16, 1, 3, 1, 1, False, re),
            (24, 2, 3, 2, 6, False, re),
            (40, 3, 5, 2, 3, True, re),
            (80, 4, 3, 2, 6, False, re),
            (112, 2, 3, 1, 6, True, re),
            (160, 3, 5, 2, 6, True, re),
            (320, 1, 3, 1, 6, False, re),
        ],
        1280,
        nn.ReLU,
    )


class XBlock(nn.Module):
    """RegNet's X block: 1×1, grouped 3×3 (group width 16), 1×1, residual."""

    def __init__(self, cin: int, cout: int, stride: int, group_width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            cbr(cin, cout, 1), cbr(cout, cout, 3, stride, groups=cout // group_width), cbr(cout, cout, 1, act=None)
        )
        self.skip = cbr(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def regnetx_400mf() -> nn.Module:
    layers, cin = [cbr(3, 32, 3, 2)], 32
    for cout, depth in ((32, 1), (64, 2), (160, 7), (384, 12)):
        for i in range(depth):
            layers.append(XBlock(cin, cout, 2 if i == 0 else 1))
            cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000))


class Shuffle(nn.Module):
    """ShuffleNetV2 unit: split, (1×1, dw 3×3, 1×1) on one half, concat, channel shuffle."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        half, self.stride = cout // 2, stride
        branch_in = cin if stride == 2 else cin // 2
        self.branch = nn.Sequential(
            cbr(branch_in, half, 1), cbr(half, half, 3, stride, groups=half, act=None), cbr(half, half, 1)
        )
        self.down = nn.Sequential(cbr(cin, cin, 3, 2, groups=cin, act=None), cbr(cin, half, 1)) if stride == 2 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down is not None:
            out = torch.cat([self.down(x), self.branch(x)], 1)
        else:
            a, b = x.chunk(2, 1)
            out = torch.cat([a, self.branch(b)], 1)
        n, c, h, w = out.shape
        return out.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


def shufflenet_v2() -> nn.Module:
    layers, cin = [cbr(3, 24, 3, 2), nn.MaxPool2d(3, 2, 1)], 24
    for cout, repeats in ((116, 4), (232, 8), (464, 4)):
        for i in range(repeats):
            layers.append(Shuffle(cin, cout, 2 if i == 0 else 1))
            cin = cout
    return nn.Sequential(*layers, cbr(cin, 1024, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000))


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, 7, 1, 3, groups=dim)
        self.norm, self.fc1, self.fc2 = nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.fc2(torch.nn.functional.gelu(self.fc1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


def convnext_atto() -> nn.Module:
    dims, depths = (40, 80, 160, 320), (2, 2, 6, 2)
    layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, 4)]
    for i, (dim, depth) in enumerate(zip(dims, depths)):
        if i:
            layers.append(nn.Conv2d(dims[i - 1], dim, 2, 2))
        layers += [ConvNeXtBlock(dim) for _ in range(depth)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(dims[-1], 1000))


class ViT(nn.Module):
    def __init__(self, dim: int = 192, depth: int = 12, heads: int = 3) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 16, 16)
        self.cls, self.pos = nn.Parameter(torch.zeros(1, 1, dim)), nn.Parameter(torch.zeros(1, 197, dim))
        self.blocks = nn.Sequential(*[TransformerEncoderLayer(dim, heads) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


ARCHITECTURES = {
    "resnet18": resnet18,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_small": mobilenet_v3_small,
    "efficientnet_b0": efficientnet_b0,
    "mnasnet_a1": mnasnet_a1,
    "regnetx_400mf": regnetx_400mf,
    "shufflenet_v2": shufflenet_v2,
    "convnext_atto": convnext_atto,
    "vit_tiny": ViT,
    "deit_small": lambda: ViT(384, 12, 6),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--profile", type=Path, help="an existing kernel profile (default: measure one now)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hwnas-kernels-") as scratch:
        profile_dir = args.profile
        if profile_dir is None:
            profile, model = measure_kernels(args.kernels, repeats=args.repeats)
            profile_dir = save_profile(profile, model, Path(scratch) / "local-cpu-kernels")
            print(f"kernel profile: {args.kernels} kernels, held-out acc10 {profile.metrics.get('acc10'):.2f}", flush=True)
        torch.manual_seed(0)
        x = torch.randn(1, 3, 224, 224)
        models = {name: onnx_bytes(make().eval(), (x,)) for name, make in ARCHITECTURES.items()}
        with torch.inference_mode():
            runners = [make_runner(ARCHITECTURES[name]().eval(), (x,), "onnxruntime", 1) for name in models]
        measured = np.median(interleaved_samples(runners, 3, args.repeats), axis=1)
        rows = []
        for (name, data), ms in zip(models.items(), measured):
            predicted = predict_onnx(data, profile_dir)
            rows.append(
                {
                    "model": name,
                    "measured_ms": float(ms),
                    "predicted_ms": predicted.ms,
                    "error": predicted.ms / ms - 1,
                    "share": predicted.to_dict()["share"],
                }
            )
            print(f"{name:20s} measured {ms:8.2f} ms  predicted {predicted.ms:8.2f} ms  {predicted.ms / ms - 1:+.1%}", flush=True)
    within = float(np.mean([abs(r["error"]) <= 0.10 for r in rows]))
    print(
        f"{within:.0%} of {len(rows)} models within ±10 % (goal ≥ 80 %); median |error| "
        f"{np.median([abs(r['error']) for r in rows]):.1%}"
    )
    if args.json:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "any_model.json").write_text(
            json.dumps(
                {
                    "benchmark": "any_model",
                    "kernels": args.kernels,
                    "repeats": args.repeats,
                    "within_10pct": within,
                    "goal": 0.8,
                    "models": rows,
                    "threads": 1,
                    "cpu_count": os.cpu_count(),
                    "seconds": round(time.perf_counter() - start, 1),
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
