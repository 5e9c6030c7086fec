"""Sizes of convolutional networks, shared by their specs (no torch) and their modules: width rounding,
squeeze-excite widths, output sizes, EMOv2's window layout and constants."""

from __future__ import annotations

from hwnas.search_spaces import _ops as ops
from hwnas.search_spaces._block import HW

__all__ = ["EPS", "LAYER_SCALE_INIT", "SE_ROUNDING", "conv_out", "layer_scale_init", "make_divisible", "ofa_divisible",
           "se_hidden", "window_layout"]


def make_divisible(filters: float, ratio: float = 1.0, base: int = 8) -> int:
    """`filters·ratio` rounded half up to a multiple of `base` (at least `base`): MobileDets' _scale_filters."""
    return max(int(int(filters) * ratio / base + 0.5) * base, base)


def conv_out(hw: HW, k: int, stride: int) -> HW:
    return ops.conv_out_len(hw[0], k, stride, k // 2), ops.conv_out_len(hw[1], k, stride, k // 2)


def ofa_divisible(value: float, divisor: int = 8) -> int:
    """Once-for-All's `make_divisible`: nearest multiple of `divisor` (at least `divisor`), bumped up if below 90 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


#: How a network rounds its squeeze-excite width: MobileDets (TF) and Once-for-All round differently.
SE_ROUNDING = ("mobiledets", "ofa")


def se_hidden(channels: int, ratio: float, rounding: str = "mobiledets") -> int:
    """Hidden width of squeeze-excite at `ratio` of `channels`."""
    if rounding == "ofa":
        return ofa_divisible(channels // round(1 / ratio))
    return make_divisible(channels, ratio)


EPS = 1e-6  # the official norms' epsilon
LAYER_SCALE_INIT = 1e-6  # the official ls_value


def layer_scale_init(skip: bool) -> float:
    """A block's layer scale at initialisation: the official 1e-6 on a residual branch (the block starts as the
    identity), 1 on a block without a skip (a stage's first, downsampling block). Official EMOv2 scales those by
    1e-6 too, which shrinks the signal a millionfold per stage at initialisation: a network trained from scratch
    on a small budget then sat at chance for epochs, or for the whole run, depending on the seed."""
    return LAYER_SCALE_INIT if skip else 1.0


def window_layout(hw: HW, window: int) -> tuple[HW, int, int]:
    """Padded size, number of windows and tokens per window for an input of size `hw` (window ≤ 0: global)."""
    wh, ww = hw if window <= 0 else (window, window)
    padded = (hw[0] + (-hw[0]) % wh, hw[1] + (-hw[1]) % ww)
    return padded, (padded[0] // wh) * (padded[1] // ww), wh * ww
