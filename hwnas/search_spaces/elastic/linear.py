"""Elastic dense-style leaves: linear, patch/positional convs, token embeddings and learned tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces.elastic._base import ElasticModule, frozen_copy, sliced


class ElasticLinear(ElasticModule):
    """Linear layer over the leading `active_in`×`active_out` block of its largest weight.

    `forward` reads the input width from the input, so owners only need `configure` before `export`.
    """

    def __init__(self, max_in: int, max_out: int, bias: bool = True) -> None:
        super().__init__()
        self.max_in, self.max_out = max_in, max_out
        proto = nn.Linear(max_in, max_out, bias=bias)
        self.weight, self.bias = proto.weight, proto.bias
        self.active_in, self.active_out = max_in, max_out

    def configure(self, in_features: int, out_features: int) -> None:
        self.active_in, self.active_out = in_features, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias[: self.active_out]
        return F.linear(x, self.weight[: self.active_out, : x.shape[-1]], bias)

    def export(self) -> nn.Linear:
        plain = nn.Linear(self.active_in, self.active_out, bias=self.bias is not None)
        plain.weight = frozen_copy(sliced(self.weight, self.active_out, self.active_in))
        if self.bias is not None:
            plain.bias = frozen_copy(self.bias[: self.active_out])
        return plain


class ElasticConv(ElasticModule):
    """Conv1d/2d with a fixed input width and an elastic number of output channels (patch embeddings)."""

    def __init__(self, dims: int, cin: int, max_out: int, kernel: int, stride: int, bias: bool = True) -> None:
        super().__init__()
        conv_cls = {1: nn.Conv1d, 2: nn.Conv2d}[dims]
        proto = conv_cls(cin, max_out, kernel, stride=stride, bias=bias)
        self.dims, self.cin, self.kernel, self.stride = dims, cin, kernel, stride
        self.weight, self.bias = proto.weight, proto.bias
        self.active_out = max_out

    def _conv(self):  # noqa: ANN202 - F.conv1d or F.conv2d
        return F.conv1d if self.dims == 1 else F.conv2d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias[: self.active_out]
        return self._conv()(x, self.weight[: self.active_out], bias, stride=self.stride)

    def export(self) -> nn.Module:
        conv_cls = {1: nn.Conv1d, 2: nn.Conv2d}[self.dims]
        plain = conv_cls(self.cin, self.active_out, self.kernel, stride=self.stride, bias=self.bias is not None)
        plain.weight = frozen_copy(self.weight[: self.active_out])
        if self.bias is not None:
            plain.bias = frozen_copy(self.bias[: self.active_out])
        return plain


class ElasticGroupedConv1d(ElasticModule):
    """Grouped Conv1d (wav2vec-style positional conv) sliced as `weight[:E, :E//groups]` for width E.

    The slice takes leading channels without regard to group boundaries, as LightHuBERT does, so
    subnets of a checkpoint trained that way keep their meaning.
    """

    def __init__(self, max_channels: int, kernel: int, groups: int, padding: int) -> None:
        super().__init__()
        proto = nn.Conv1d(max_channels, max_channels, kernel, padding=padding, groups=groups)
        self.weight, self.bias = proto.weight, proto.bias
        self.kernel, self.groups, self.padding = kernel, groups, padding
        self.active_channels = max_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, T)
        c = x.shape[1]
        return F.conv1d(x, self.weight[:c, : c // self.groups], self.bias[:c], padding=self.padding, groups=self.groups)

    def export(self) -> nn.Conv1d:
        c = self.active_channels
        plain = nn.Conv1d(c, c, self.kernel, padding=self.padding, groups=self.groups)
        plain.weight = frozen_copy(self.weight[:c, : c // self.groups])
        plain.bias = frozen_copy(self.bias[:c])
        return plain


class TiedEmbedding(nn.Embedding):
    """Token embedding whose transpose is also the output projection (shared input/output vocabulary)."""

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class ElasticEmbedding(ElasticModule):
    """Token table of width `max_dim`; a subnet of width d uses its first d columns (HAT's SuperEmbedding)."""

    def __init__(self, vocab: int, max_dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        self.vocab, self.padding_idx = vocab, padding_idx
        self.weight = nn.Parameter(torch.randn(vocab, max_dim) * max_dim**-0.5)
        if padding_idx is not None:
            with torch.no_grad():
                self.weight[padding_idx].zero_()
        self.active_dim = max_dim

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.embedding(tokens, self.weight[:, : self.active_dim], self.padding_idx)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight[:, : x.shape[-1]])

    def export(self) -> TiedEmbedding:
        plain = TiedEmbedding(self.vocab, self.active_dim, padding_idx=self.padding_idx)
        plain.weight = frozen_copy(self.weight[:, : self.active_dim])
        return plain


class LearnedTensor(nn.Module):
    """A learned tensor (class token, position table, mask embedding) returned whole by `forward`."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = nn.Parameter(value)

    def forward(self) -> torch.Tensor:
        return self.value


class ElasticTensor(ElasticModule):
    """A learned tensor whose last dimension is elastic (`active_dim` leading entries)."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = nn.Parameter(value)
        self.active_dim = value.shape[-1]

    def forward(self) -> torch.Tensor:
        return self.value[..., : self.active_dim]

    def export(self) -> LearnedTensor:
        return LearnedTensor(self.value[..., : self.active_dim].detach().clone())
