"""EMOv2's block specs (its stem, the i2RMB with an optional spanning window attention), without torch.

As in `_conv_specs`: each spec describes one block's ops, and `build()` imports the supernet module
(`elastic.emo_blocks`) only when called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._block import HW, BuildableSpec
from hwnas.search_spaces._conv_math import EPS, LAYER_SCALE_INIT, conv_out, window_layout
from hwnas.search_spaces._conv_specs import conv_ops
from hwnas.search_spaces._ops import OpSpec

if TYPE_CHECKING:
    from hwnas.search_spaces.elastic.emo_blocks import I2RMB, EMOv2Stem

__all__ = ["EPS", "LAYER_SCALE_INIT", "EMOv2StemSpec", "I2RMBSpec", "spanning_attention_ops", "window_layout"]

def spanning_attention_ops(cin: int, mid: int, heads: int, head_dim: int, window: int, hw: HW, act: str) -> list[OpSpec]:
    padded, windows, tokens = window_layout(hw, window)
    qk = heads * head_dim
    return [ops.conv2d(cin, qk, 1, 1, padded), ops.conv2d(cin, qk, 1, 1, padded),
            *conv_ops(cin, mid, 1, 1, padded, act, bias=True, norm=False)[0],
            ops.window_attention(windows, tokens, heads, qk, mid, branches=2), ops.add(mid * padded[0] * padded[1])]


@dataclass(frozen=True)
class I2RMBSpec(BuildableSpec):
    """One i2RMB: `norm` is 'bn' or 'ln'; `attention` = (heads, head_dim), None for the 1×1 conv expansion;
    `kernels` are the depthwise sizes its slot offers; `stage` the index of its stage."""

    cin: int
    cout: int
    mid: int
    kernel: int
    stride: int
    skip: bool
    norm: str
    act: str
    attention: tuple[int, int] | None
    window: int
    hw: HW
    kernels: tuple[int, ...]
    stage: int

    @property
    def out_hw(self) -> HW:
        return conv_out(self.hw, self.kernel, self.stride)

    @property
    def windows(self) -> tuple[HW, int, int]:
        """(padded input size, number of windows, tokens per window) of its attention."""
        return window_layout(self.hw, self.window)

    def ops(self) -> list[OpSpec]:
        hw, cin, mid, cout = self.hw, self.cin, self.mid, self.cout
        result = [ops.batchnorm(cin, hw) if self.norm == "bn" else ops.layernorm(hw[0] * hw[1], cin)]
        if self.attention is None:
            result += conv_ops(cin, mid, 1, 1, hw, self.act, bias=True, norm=False)[0]
        else:
            result += spanning_attention_ops(cin, mid, *self.attention, self.window, hw, self.act)
        local, out = conv_ops(mid, mid, self.kernel, self.stride, hw, "silu", groups=mid)
        result += local + ([ops.add(mid * out[0] * out[1])] if self.skip else [])
        numel = cout * out[0] * out[1]
        result += [ops.conv2d(mid, cout, 1, 1, out, bias=False), ops.param(cout, "layer_scale"), ops.mul(numel)]
        return result + ([ops.add(numel)] if self.skip else [])

    def build(self) -> I2RMB:
        """A supernet i2RMB at these (largest) sizes; with `attention`, the slot also offers the conv expansion."""
        from hwnas.search_spaces.elastic.emo_blocks import I2RMB  # the module needs torch; describing a block does not

        return I2RMB.from_spec(self)


@dataclass(frozen=True)
class EMOv2StemSpec(BuildableSpec):
    cin: int
    width: int
    hw: HW

    @property
    def out_hw(self) -> HW:
        return conv_out(self.hw, 3, 2)

    def ops(self) -> list[OpSpec]:
        w = self.width
        result, hw = conv_ops(self.cin, w, 3, 2, self.hw, "silu", bias=True)
        return result + conv_ops(w, w, 3, 1, hw, "silu", groups=w)[0] + [ops.conv2d(w, w, 1, 1, hw, bias=False)]

    def build(self) -> EMOv2Stem:
        from hwnas.search_spaces.elastic.emo_blocks import EMOv2Stem  # the module needs torch; describing a block does not

        return EMOv2Stem.from_spec(self)
