"""Elastic convolution leaves: dense and depthwise convs, BatchNorm, activations, layer scale, choices.

Channels are elastic as everywhere in hwnas (leading slices of the largest weight; the input width is
read from the input). Kernel size is elastic the Once-for-All way: a smaller kernel is the centre of the
largest weight multiplied by a learned k²×k² transform per step down (5→3, 7→5), initialised to the
identity, so a 3×3 subnet can specialise the shared centre instead of being forced to reuse it as is.
Export bakes the transformed kernel into a plain `nn.Conv2d`, so subnets carry no transform.

BatchNorm slices its running statistics and affine parameters to the active channels; export copies the
slices, so an extracted subnet in eval mode computes exactly what the supernet computes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces.elastic._base import ElasticModule, export_module, frozen_copy

#: Activation kinds by name: the function the supernet applies and the module an export contains.
ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], type[nn.Module]]] = {
    "identity": (lambda x: x, nn.Identity),
    "relu": (F.relu, nn.ReLU),
    "relu6": (F.relu6, nn.ReLU6),
    "hswish": (F.hardswish, nn.Hardswish),  # x·relu6(x+3)/6: MobileDets' swish6
    "silu": (F.silu, nn.SiLU),
    "gelu": (F.gelu, nn.GELU),
    "sigmoid": (torch.sigmoid, nn.Sigmoid),
}


def _kernel_sizes(kernel_sizes: int | Sequence[int]) -> tuple[int, ...]:
    sizes = (kernel_sizes,) if isinstance(kernel_sizes, int) else tuple(kernel_sizes)
    if not sizes or any(k < 1 or k % 2 == 0 for k in sizes):
        raise ValueError(f"kernel sizes must be odd and positive, got {list(sizes)}")
    return tuple(sorted(set(sizes), reverse=True))


class _ElasticKernel(ElasticModule):
    """Shared kernel elasticity: the transform matrices and the centre-crop-and-transform chain."""

    weight: nn.Parameter

    def _init_kernels(self, kernel_sizes: int | Sequence[int]) -> int:
        self.kernel_sizes = _kernel_sizes(kernel_sizes)
        steps = zip(self.kernel_sizes, self.kernel_sizes[1:])
        self.transforms = nn.ParameterDict({f"{big}to{small}": nn.Parameter(torch.eye(small * small)) for big, small in steps})
        self.active_kernel = self.kernel_sizes[0]
        return self.kernel_sizes[0]

    def _set_kernel(self, kernel: int | None) -> None:
        if kernel is None:
            return
        if kernel not in self.kernel_sizes:
            raise ValueError(f"kernel size {kernel} is not one of this layer's sizes {list(self.kernel_sizes)}")
        self.active_kernel = kernel

    def kernel_weight(self, weight: torch.Tensor, kernel: int) -> torch.Tensor:
        """`weight` (out, in, K, K) at size `kernel`: each step crops the centre and applies its transform."""
        current = weight
        for big, small in zip(self.kernel_sizes, self.kernel_sizes[1:]):
            if big <= kernel:
                break
            start = (big - small) // 2
            centre = current[:, :, start : start + small, start : start + small]
            flat = F.linear(centre.reshape(-1, small * small), self.transforms[f"{big}to{small}"])
            current = flat.reshape(centre.shape)
        return current


class ElasticConv2d(_ElasticKernel):
    """Dense conv with elastic input/output channels and kernel size ('same' padding, k // 2)."""

    def __init__(self, max_in: int, max_out: int, kernel_sizes: int | Sequence[int] = 1, stride: int = 1,
                 bias: bool = False) -> None:
        super().__init__()
        k = self._init_kernels(kernel_sizes)
        proto = nn.Conv2d(max_in, max_out, k, stride=stride, padding=k // 2, bias=bias)
        nn.init.kaiming_normal_(proto.weight, mode="fan_out")
        self.weight, self.bias = proto.weight, proto.bias
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.max_in, self.max_out, self.stride = max_in, max_out, stride
        self.active_in, self.active_out = max_in, max_out

    def configure(self, in_channels: int, out_channels: int, kernel: int | None = None) -> None:
        if not 0 < in_channels <= self.max_in or not 0 < out_channels <= self.max_out:
            raise ValueError(f"conv {in_channels}→{out_channels} channels outside this layer's {self.max_in}→{self.max_out}")
        self._set_kernel(kernel)
        self.active_in, self.active_out = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.kernel_weight(self.weight[: self.active_out, : x.shape[1]], self.active_kernel)
        bias = None if self.bias is None else self.bias[: self.active_out]
        return F.conv2d(x, weight, bias, self.stride, self.active_kernel // 2)

    def export(self) -> nn.Conv2d:
        k = self.active_kernel
        plain = nn.Conv2d(self.active_in, self.active_out, k, stride=self.stride, padding=k // 2, bias=self.bias is not None,
                          device="meta")  # no throw-away initialisation: every tensor is replaced below
        plain.weight = frozen_copy(self.kernel_weight(self.weight[: self.active_out, : self.active_in], k))
        if self.bias is not None:
            plain.bias = frozen_copy(self.bias[: self.active_out])
        return plain


class ElasticDepthwiseConv2d(_ElasticKernel):
    """Depthwise conv (one filter per channel) with elastic channels and kernel size."""

    def __init__(self, max_channels: int, kernel_sizes: int | Sequence[int] = 3, stride: int = 1, bias: bool = False) -> None:
        super().__init__()
        k = self._init_kernels(kernel_sizes)
        proto = nn.Conv2d(max_channels, max_channels, k, stride=stride, padding=k // 2, groups=max_channels, bias=bias)
        nn.init.kaiming_normal_(proto.weight, mode="fan_out")
        self.weight, self.bias = proto.weight, proto.bias
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.max_channels, self.stride = max_channels, stride
        self.active_channels = max_channels

    def configure(self, channels: int, kernel: int | None = None) -> None:
        if not 0 < channels <= self.max_channels:
            raise ValueError(f"depthwise conv of {channels} channels outside this layer's 1..{self.max_channels}")
        self._set_kernel(kernel)
        self.active_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        weight = self.kernel_weight(self.weight[:c], self.active_kernel)
        bias = None if self.bias is None else self.bias[:c]
        return F.conv2d(x, weight, bias, self.stride, self.active_kernel // 2, groups=c)

    def export(self) -> nn.Conv2d:
        c, k = self.active_channels, self.active_kernel
        plain = nn.Conv2d(c, c, k, stride=self.stride, padding=k // 2, groups=c, bias=self.bias is not None, device="meta")
        plain.weight = frozen_copy(self.kernel_weight(self.weight[:c], k))
        if self.bias is not None:
            plain.bias = frozen_copy(self.bias[:c])
        return plain


class ElasticBatchNorm2d(ElasticModule):
    """BatchNorm2d over the leading channels of its largest statistics and affine parameters.

    Training updates only the active slice of the running statistics (the slices are views), so every
    subnet shares one set of buffers; `hwnas.search_spaces.recalibrate_bn` re-estimates them per subnet.
    `momentum=None` gives a cumulative average, as in `nn.BatchNorm2d`.
    """

    def __init__(self, max_features: int, eps: float = 1e-5, momentum: float | None = 0.1) -> None:
        super().__init__()
        self.max_features, self.eps, self.momentum = max_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(max_features))
        self.bias = nn.Parameter(torch.zeros(max_features))
        self.register_buffer("running_mean", torch.zeros(max_features))
        self.register_buffer("running_var", torch.ones(max_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.active_features = max_features

    def reset_running_stats(self) -> None:
        self.running_mean.zero_()
        self.running_var.fill_(1.0)
        self.num_batches_tracked.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        factor = 0.0
        if self.training:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c], self.bias[:c],
                            self.training, factor, self.eps)

    def export(self) -> nn.BatchNorm2d:
        c = self.active_features
        plain = nn.BatchNorm2d(c, eps=self.eps, momentum=self.momentum)
        plain.weight, plain.bias = frozen_copy(self.weight[:c]), frozen_copy(self.bias[:c])
        plain.running_mean.copy_(self.running_mean[:c])
        plain.running_var.copy_(self.running_var[:c])
        plain.num_batches_tracked.copy_(self.num_batches_tracked)
        return plain


class ElasticActivation(ElasticModule):
    """An activation chosen by name per subnet (e.g. ReLU6 or hard-swish); it has no weights."""

    def __init__(self, kind: str = "relu") -> None:
        super().__init__()
        self.kind = ""
        self.configure(kind)

    def configure(self, kind: str) -> None:
        if kind not in ACTIVATIONS:
            raise ValueError(f"unknown activation {kind!r}; choose one of {sorted(ACTIVATIONS)}")
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.kind][0](x)

    def export(self) -> nn.Module:
        return ACTIVATIONS[self.kind][1]()

    def extra_repr(self) -> str:
        return self.kind


class LayerScale2d(nn.Module):
    """Per-channel learned scale of an NCHW tensor (EMO's LayerScale2D)."""

    def __init__(self, gamma: torch.Tensor) -> None:
        super().__init__()
        self.gamma = nn.Parameter(gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1)


class ElasticLayerScale(ElasticModule):
    """LayerScale over the leading channels of its largest scale vector."""

    def __init__(self, max_channels: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((max_channels,), float(init)))
        self.active_channels = max_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma[: x.shape[1]].view(1, -1, 1, 1)

    def export(self) -> LayerScale2d:
        return LayerScale2d(self.gamma[: self.active_channels].detach().clone())


class ChannelsLast(nn.Module):
    """Apply a last-dimension module (LayerNorm) over the channels of an NCHW tensor."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ElasticChoice(ElasticModule):
    """One of several named modules runs (a block kind, SE on/off); `None` options are the identity.

    Export returns the export of the active option only, so the other options' weights never reach a subnet.
    """

    def __init__(self, options: Mapping[str, nn.Module | None], active: str | None = None) -> None:
        super().__init__()
        if not options:
            raise ValueError("a choice needs at least one option")
        self.options = nn.ModuleDict({key: nn.Identity() if module is None else module for key, module in options.items()})
        self.active = ""
        self.configure(active or next(iter(options)))

    def configure(self, key: str) -> nn.Module:
        """Make `key` the running option and return its module, for the caller to configure."""
        if key not in self.options:
            raise ValueError(f"option {key!r} is not one of {list(self.options)}")
        self.active = key
        return self.options[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.options[self.active](x)

    def export(self) -> nn.Module:
        return export_module(self.options[self.active])
