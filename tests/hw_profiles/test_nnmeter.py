"""nn-Meter block tables: key formats, features, calibration and the lookup-table round trip."""

import json

import numpy as np
import pytest

from hwnas.errors import DataFileError
from hwnas.hw_profiles import calibrate_nnmeter_lut, load_profile, nnmeter_keys_ms, parse_block_key, read_nnmeter_lut, save_profile
from hwnas.hw_profiles._nnmeter import block_features


@pytest.mark.parametrize("key,kind,fields", [
    ("firstconv_224_3_16_2_3", "firstconv", {"hw": 224, "cin": 3, "cout": 16, "stride": 2, "k": 3}),
    ("conv_56_16_24_4_2_hard_swish_5_se", "conv",
     {"hw": 56, "cin": 16, "cout": 24, "expand": 4, "stride": 2, "act": "hard_swish", "k": 5, "se": 1}),
    ("conv_40_16_16_6_1_hard_swish_3_nose", "conv",
     {"hw": 40, "cin": 16, "cout": 16, "expand": 6, "stride": 1, "act": "hard_swish", "k": 3, "se": 0}),
    ("transds_14_64_96_2_4", "transds", {"hw": 14, "cin": 64, "cout": 96, "stride": 2, "expand": 4}),
    ("transattn_7_96_hard_swish_2_ln", "transattn", {"hw": 7, "c": 96, "act": "hard_swish", "v": 2, "ln": 1}),
    ("transffn_7_96_3_hard_swish_ln", "transffn", {"hw": 7, "c": 96, "expand": 3, "act": "hard_swish", "ln": 1}),
    ("mbpool_4_256_1984_6_hard_swish", "mbpool", {"hw": 4, "cin": 256, "cout": 1984, "expand": 6, "act": "hard_swish"}),
])
def test_parses_every_key_format(key, kind, fields):
    block = parse_block_key(key)
    assert block.kind == kind and block.fields == fields


def test_block_macs_by_hand():
    # transffn over 7×7 tokens of 96 channels, ×3: two matmuls 49·96·288
    assert block_features(parse_block_key("transffn_7_96_3_hard_swish_ln"))[0][1] == 2 * 49 * 96 * 288
    # MBConv 56→28, 16→24, ×4, k5: expand 56²·16·64, depthwise 28²·64·25, project 28²·64·24
    physical = block_features(parse_block_key("conv_56_16_24_4_2_hard_swish_5_se"))[0]
    assert physical[1:4] == [56 * 56 * 16 * 64, 28 * 28 * 64 * 25, 28 * 28 * 64 * 24]


@pytest.mark.parametrize("key,message", [
    ("pool_7_96", "kind 'pool' is not one of"),
    ("transffn_7_96_hard_swish_ln", "has 4 fields"),
    ("transds_14_x_96_2_4", "field cin = 'x' is not an integer"),
    ("conv_56_16_24_4_2_hard_swish_5_maybe", "must be one of se, nose"),
])
def test_bad_keys(key, message):
    with pytest.raises(DataFileError, match=message):
        parse_block_key(key)


@pytest.mark.parametrize("content,message", [
    ("{}", "empty table"), ("[1, 2]", "expected a JSON object"), ("{broken", "not valid JSON"),
    ('{"transds_14_64_96_2_4": NaN}', "positive finite"), ('{"transds_14_64_96_2_4": "fast"}', "is not a number"),
    ('{"bogus_1": 1.0}', "kind 'bogus' is not one of"),
])
def test_bad_lut_files(tmp_path, content, message):
    path = tmp_path / "lut.json"
    path.write_text(content)
    with pytest.raises(DataFileError, match=message) as info:
        read_nnmeter_lut(path)
    assert str(path) in str(info.value)


def test_calibrate_small_table_round_trip(small_lut, tmp_path):
    profile, model = calibrate_nnmeter_lut(small_lut)
    assert profile.device == "pixel4" and profile.kind == "mobile-cpu"
    assert profile.provenance["licence"].startswith("MIT")
    assert set(profile.validation["per_kind"]) == {"firstconv", "conv", "transds", "transattn", "transffn", "mbpool"}
    assert profile.validation["per_kind"]["transds"]["acc10"] >= 0.9  # 645 keys: enough for the trees
    loaded = load_profile(save_profile(profile, model, tmp_path / "pixel4"))
    table = json.loads(small_lut.read_text())
    keys = list(table)
    np.testing.assert_allclose(nnmeter_keys_ms(loaded, keys), [table[k] for k in keys], rtol=1e-5)  # seen keys: measured
