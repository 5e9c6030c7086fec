"""nn-Meter's blocks written out as ops count the MACs the table's own features count, and the phone profiles'
op-level part (fitted on them) prices archs of spaces without nn-Meter blocks."""

from __future__ import annotations

import json

import pytest

from hwnas.hw_profiles import get_profile, predict_archs_ms
from hwnas.hw_profiles._nnmeter import PHYSICAL_NAMES, block_features, parse_block_key
from hwnas.hw_profiles._nnmeter_ops import block_ops
from hwnas.search_spaces import get_space

MATMULS = ("conv2d", "linear", "window_attention")


def test_block_ops_count_the_tables_macs(hwnas_data):
    table = json.loads((hwnas_data / "nnmeter-mobile-lut" / "pixel4_lut_ln_v3.json").read_text())
    for key in sorted(table)[::25]:
        block = parse_block_key(key)
        physical = dict(zip(PHYSICAL_NAMES[block.kind], block_features(block)[0]))
        ours = [op for op in block_ops(block) if op.kind in MATMULS]
        if block.kind in ("conv", "transds"):  # squeeze-excite widths round differently: compare the rest
            main = sum(op.macs for op in ours if not (op["h"] == 1 and op["w"] == 1))
            assert main == physical["expand_macs"] + physical["depthwise_macs"] + physical["project_macs"], key
        else:
            assert sum(op.macs for op in ours) == sum(v for k, v in physical.items() if k.endswith("macs")), key


@pytest.mark.parametrize("phone", ["pixel1", "pixel4", "pixel6"])
def test_phones_price_spaces_without_blocks_by_ops(phone):
    profile = get_profile(phone)
    assert profile.domain["fusion"] == "deployed" and "window_attention" in profile.domain["op_classes"]
    per_kind = profile.validation["op_level"]["per_kind"]
    assert per_kind["conv"]["acc10"] >= 0.8 and per_kind["transffn"]["acc10"] >= 0.75
    vit = get_space("mixed-attention", "tiny")
    archs = [vit.min_arch(), vit.max_arch()]
    ms = predict_archs_ms(profile, vit, archs)
    assert 0 < ms[0] < ms[1]
