"""`ofa-mbv3` and `fbnet`: sizes as the official code counts them, and HELP's rows map onto valid archs.

Reference counts follow mit-han-lab/once-for-all (`OFAMobileNetV3`, `get_active_subnet`, `make_divisible`) and
GATECH-EIC/HW-NAS-Bench (`fbnet_models`): parameters are every weight of the static subnet; MACs count convs
and linears only (as `ofa/utils/flops_counter.py` does).
"""

from __future__ import annotations

import pytest

from hwnas.errors import InvalidArchError
from hwnas.hw_profiles._help import read_help_csv
from hwnas.search_spaces import get_space
from hwnas.search_spaces._conv_math import ofa_divisible, se_hidden
from hwnas.search_spaces._ops import total_params


def _counts(space, arch) -> tuple[int, float]:
    ops = space.ops(space.validate(arch))
    return total_params(ops), round(sum(op.macs for op in ops if op.kind in ("conv2d", "linear")) / 1e6, 1)


def test_ofa_widths_round_as_ofa_rounds():
    assert [ofa_divisible(w * 1.2) for w in (16, 16, 24, 40, 80, 112, 160, 960, 1280)] == [24, 24, 32, 48, 96, 136, 192, 1152, 1536]
    assert get_space("ofa-mbv3", "imagenet-w1.0").widths == (16, 16, 24, 40, 80, 112, 160, 960, 1280)
    assert se_hidden(72, 0.25, "ofa") == 24 and se_hidden(72, 0.25, "mobiledets") == 16  # OFA's 90 % rule


@pytest.mark.parametrize("preset,which,params,macs_m", [
    ("imagenet-w1.0", "max", 7_664_760, 566.2), ("imagenet-w1.0", "min", 3_410_792, 121.3),
    ("imagenet-w1.2", "max", 10_701_632, 843.1), ("imagenet-w1.2", "min", 4_602_456, 193.1),
])
def test_ofa_sizes_match_the_official_code(preset, which, params, macs_m):
    space = get_space("ofa-mbv3", preset)
    arch = (space.max_arch() if which == "max" else space.min_arch()).replace(resolution=224)
    assert _counts(space, arch) == (params, macs_m)


@pytest.mark.parametrize("blocks,params,macs_m", [
    (["k3_e1"] * 22, 1_170_676, 31.3), (["k5_e6"] * 22, 3_749_652, 160.9), (["skip"] * 22, 780_660, 11.6),
])
def test_fbnet_sizes_match_the_official_code(blocks, params, macs_m):
    assert _counts(get_space("fbnet"), {"blocks": blocks}) == (params, macs_m)


def test_help_rows_are_archs_of_their_spaces(hwnas_data):
    ofa = read_help_csv(hwnas_data / "help-latency" / "ofa_latency_ms.csv")
    space = get_space(ofa.space)
    assert ofa.space == "ofa-mbv3" and len(ofa) == 5000 and len(ofa.latency_ms) == 9
    assert _counts(space, ofa.archs[0]) == (6_132_040, 305.0) and _counts(space, ofa.archs[1]) == (8_563_984, 194.3)
    assert {a["resolution"] for a in ofa.archs} == set(range(128, 225, 4))
    fbnet = read_help_csv(hwnas_data / "help-latency" / "fbnet_latency_ms.csv")
    assert fbnet.space == "fbnet" and len(fbnet.latency_ms) == 21
    assert _counts(get_space("fbnet"), fbnet.archs[0]) == (1_790_500, 67.6)
    with pytest.raises(InvalidArchError, match="blocks"):
        get_space("fbnet").validate({"blocks": ["k7_e1"] * 22})
