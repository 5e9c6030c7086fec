"""Subnets of the conv spaces as nn-Meter blocks, so the phone profiles (`nnmeter-block-v1`) price them.

nn-Meter's tables measure whole blocks (see `_nnmeter`); a subnet's phone latency is the sum over its
blocks. Each block of a space maps onto the nn-Meter kind that computes the same thing; where the
structures differ, the difference is priced as a *remainder* (a row of that kind's physical counts,
priced by the unit costs fitted on the table) or named here with its direction. No block is dropped: a
block with no nn-Meter counterpart raises `OutOfDomainError` naming it.

| space block | nn-Meter part(s) | approximation (direction) |
|---|---|---|
| stem 3×3 s2 conv | `firstconv` | exact structure; the input size must be one the table measured |
| EMOv2 stem depthwise 3×3 + 1×1 | `conv`, expand 1 | exact structure (EMOv2's 1×1 has no norm) |
| EMOv2 i2RMB, 1×1 conv expansion | `conv` (MBConv, no SE) | stages 3–4's LayerNorm and the inner skip add are not in it (under, a few %) |
| EMOv2 i2RMB, window attention | `transattn` at the window size × windows; remainders: the second window branch (QK, AV, softmax; `transattn` costs) and the depthwise conv (`conv` costs) | nn-Meter's q/k width is c (c/16 heads of 16), EMOv2's heads·head_dim: over when heads·head_dim < c, under when > |
| expansion between integers (2.5, 3.5) | the two neighbouring integer keys, interpolated linearly | latency is near-linear in the inner width |
| classifier head (EMOv2: LN, mean, linear) | `mbpool` remainder: the pooled map and the linear | nn-Meter's mbpool also has a 1×1 expansion to 6×, which these heads lack, so it is left out |
| MobileDets IBN (k, e, SE 0.25) | `conv` (its SE is also mid/4) | ReLU6 priced as hard-swish |
| MobileDets fused IBN, Tucker, SSDLite head | none | full k×k convs and the detection head were never measured: `OutOfDomainError` |

Every activation is priced as hard-swish (the only one the tables measured; SiLU/GELU cost about the
same elementwise). Whether each key is priced from the table, the regressor or unit costs is decided by
the profile (`_predict.price_block_parts`), which also enforces the measured ranges.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hwnas.errors import OutOfDomainError
from hwnas.hw_profiles._nnmeter import PHYSICAL_NAMES
from hwnas.search_spaces.specs import (
    BlockSpec, ClassifierHeadSpec, ConvSpec, EMOv2StemSpec, FusedIBNSpec, I2RMBSpec, IBNSpec, MobileLayerSpec,
    SSDLiteHeadSpec, TuckerSpec,
)

ACT = "hard_swish"  # the only activation nn-Meter's tables measured


@dataclass(frozen=True)
class BlockPart:
    """One priced piece of a subnet block: a table `key` of `kind`, or (key None) a remainder `physical` row
    of `kind`'s counts priced by its unit costs; `weight` multiplies it (windows, interpolation halves)."""

    block: str
    kind: str
    key: str | None = None
    weight: float = 1.0
    physical: tuple[float, ...] | None = None


def _mbconv_parts(block: str, hw: int, cin: int, cout: int, mid: int, stride: int, k: int, se: bool) -> list[BlockPart]:
    """`conv` keys of an MBConv with inner width `mid`; a fractional expansion interpolates its integer neighbours."""
    tail = f"{stride}_{ACT}_{k}_{'se' if se else 'nose'}"
    exp = mid / cin
    low, high = math.floor(exp), math.ceil(exp)
    if low == high:
        return [BlockPart(block, "conv", f"conv_{hw}_{cin}_{cout}_{low}_{tail}")]
    share = exp - low
    return [BlockPart(block, "conv", f"conv_{hw}_{cin}_{cout}_{low}_{tail}", 1 - share),
            BlockPart(block, "conv", f"conv_{hw}_{cin}_{cout}_{high}_{tail}", share)]


def _row(kind: str, **counts: float) -> tuple[float, ...]:
    names = PHYSICAL_NAMES[kind]
    unknown = set(counts) - set(names)
    if unknown:
        raise ValueError(f"{kind} has no physical column {sorted(unknown)[0]!r}")
    return tuple(float(counts.get(name, 0.0)) for name in names)


def _head_part(block: str, hw: int, channels: int, classes: int) -> BlockPart:
    # the pooled map goes where mbpool pools (its expanded map); there is no 1×1 expansion to read an input for
    return BlockPart(block, "mbpool", physical=_row("mbpool", block=1, fc_macs=channels * classes,
                                                     expanded_act=hw * hw * channels, weights=channels * classes))


def _square(space_name: str, shape: Sequence[int]) -> int:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise OutOfDomainError(f"{space_name}: input {tuple(shape)} is not a square image; nn-Meter's blocks are square (hw×hw)")
    return int(shape[1])


def _stem_parts(name: str, spec: ConvSpec | EMOv2StemSpec) -> list[BlockPart]:
    hw = spec.hw[0]
    width = spec.cout if isinstance(spec, ConvSpec) else spec.width
    parts = [BlockPart(f"{name}.conv", "firstconv", f"firstconv_{hw}_{spec.cin}_{width}_2_3")]
    if isinstance(spec, EMOv2StemSpec):  # its depthwise 3×3 + 1×1
        parts.append(BlockPart(f"{name}.dw_pw", "conv", f"conv_{spec.out_hw[0]}_{width}_{width}_1_1_{ACT}_3_nose"))
    return parts


def _i2rmb_parts(name: str, b: I2RMBSpec) -> list[BlockPart]:
    hw = b.hw[0]
    if b.attention is None:
        return _mbconv_parts(name, hw, b.cin, b.cout, b.mid, b.stride, b.kernel, False)
    name += " (attention)"
    heads, head_dim = b.attention
    (ph, pw), windows, tokens = b.windows
    side = int(round(math.sqrt(tokens)))
    exp = b.mid / b.cin
    low, high = math.floor(exp), math.ceil(exp)
    shares = [(low, 1.0)] if low == high else [(low, 1 - (exp - low)), (high, exp - low)]
    parts = [BlockPart(name, "transattn", f"transattn_{side}_{b.cin}_{ACT}_{v}_ln", windows * share) for v, share in shares]
    qk = heads * head_dim
    parts.append(BlockPart(f"{name} second window branch", "transattn", physical=_row(
        "transattn", qk_macs=windows * tokens * tokens * qk, av_macs=windows * tokens * tokens * b.mid,
        softmax_elems=windows * tokens * tokens * heads)))
    parts.append(BlockPart(f"{name} depthwise", "conv", physical=_row(
        "conv", depthwise_macs=hw * hw * b.mid * b.kernel**2, expanded_act=ph * pw * b.mid,
        depthwise_out_act=hw * hw * b.mid, weights=b.mid * b.kernel**2)))
    return parts


def _ibn_parts(name: str, spec: IBNSpec) -> list[BlockPart]:
    return _mbconv_parts(f"{name} (ibn_k{spec.kernel})", spec.hw[0], spec.cin, spec.cout, spec.cin * spec.expansion,
                         spec.stride, spec.kernel, spec.se_ratio > 0)


def _unmeasured_conv(what: str) -> Callable[[str, MobileLayerSpec], list[BlockPart]]:
    def refuse(name: str, spec: MobileLayerSpec) -> list[BlockPart]:
        raise OutOfDomainError(f"block {name} ({spec.option}_k{spec.kernel}): {what} has no nn-Meter block kind (the phone "
                               "tables measure depthwise MBConvs, attention and FFN blocks); outside the nnmeter-block-v1 domain")
    return refuse


def _classifier_parts(name: str, spec: ClassifierHeadSpec) -> list[BlockPart]:
    return [_head_part(name, spec.hw[0], spec.channels, spec.num_classes)]


def _ssdlite_parts(name: str, spec: SSDLiteHeadSpec) -> list[BlockPart]:
    raise OutOfDomainError(f"block {name} (SSDLite): the detection head has no nn-Meter block kind; outside the "
                           "nnmeter-block-v1 domain (use the classifier preset `tiny` or a measured profile)")


#: Block spec type → its nn-Meter parts (given the block's name); a type not here has no counterpart.
PARTS: dict[type, Callable[[str, Any], list[BlockPart]]] = {
    ConvSpec: _stem_parts, EMOv2StemSpec: _stem_parts, I2RMBSpec: _i2rmb_parts, IBNSpec: _ibn_parts,
    FusedIBNSpec: _unmeasured_conv("a full k×k expansion conv"),
    TuckerSpec: _unmeasured_conv("a full k×k conv between 1×1 compressions"),
    ClassifierHeadSpec: _classifier_parts, SSDLiteHeadSpec: _ssdlite_parts,
}


def _block_parts(specs: Sequence[BlockSpec]) -> Iterator[BlockPart]:
    """Each spec's parts in order; stage layers are named `s<stage>.<index in stage>` as in the module table."""
    counts: dict[int, int] = {}
    for i, spec in enumerate(specs):
        parts = PARTS.get(type(spec))
        if parts is None:
            raise OutOfDomainError(f"block {type(spec).__name__} has no nn-Meter block kind; outside the nnmeter-block-v1 domain")
        stage = getattr(spec, "stage", None)
        if stage is not None:
            counts[stage] = counts.get(stage, -1) + 1
        name = "stem" if i == 0 else "head" if i == len(specs) - 1 else f"s{stage + 1}.{counts[stage]}"
        yield from parts(name, spec)


def nnmeter_block_parts(space, arch, input_shape: Sequence[int] | None = None) -> list[BlockPart]:  # noqa: ANN001
    """The nn-Meter parts of `arch` of `space` at `input_shape` (default: the preset's), from the space's
    block specs; raises `OutOfDomainError` for spaces or blocks with no nn-Meter counterpart."""
    shape = tuple(input_shape or space.default_input_shape)
    first = space.blocks(arch)[0]
    if not isinstance(first, (ConvSpec, EMOv2StemSpec)):
        raise OutOfDomainError(f"space {space.name} has no nn-Meter block decomposition (its first block is "
                               f"{type(first).__name__}, not a conv stem); its blocks are outside the nnmeter-block-v1 domain")
    _square(space.name, shape)
    return list(_block_parts(space.blocks(arch, shape)))


def nnmeter_block_keys(space, arch, input_shape: Sequence[int] | None = None) -> list[str]:  # noqa: ANN001
    """The nn-Meter table keys of `arch` (remainders, which have no key, left out)."""
    return [p.key for p in nnmeter_block_parts(space, arch, input_shape) if p.key is not None]
