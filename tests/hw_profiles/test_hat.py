"""HAT latency CSVs: parsing, op-level features checked against the space's ops, calibration."""

import numpy as np
import pytest

from hwnas.errors import DataFileError
from hwnas.hw_profiles import HAT_COLUMNS, calibrate_hat_csv, hat_op_features, hat_rows_from_archs, load_profile, read_hat_csv, save_profile
from hwnas.hw_profiles._hat import PHYSICAL_WIDTH
from hwnas.predictors import metrics
from hwnas.search_spaces import get_space

HEADER = ",".join(HAT_COLUMNS) + ",latency_mean_encoder,latency_mean_decoder,latency_std_encoder,latency_std_decoder\n"
ROW = "512,6,2048.0,4.0,512,3,1024.0,4.0,8.0,2.0,9.5,200.0,0.1,2.0\n"


def test_reads_every_row_of_the_real_csv(hat_xeon_csv):
    data = read_hat_csv(hat_xeon_csv)
    assert len(data) == 2000 and data.features.shape == (2000, 10)
    # first row of the file, by hand
    np.testing.assert_allclose(data.features[0, :3], [640, 6, 1194.6666666666667])
    assert data.encoder_ms[0] == pytest.approx(9.922519326210022)
    assert data.total_ms[0] == pytest.approx(9.922519326210022 + 236.7689162492752)


@pytest.mark.parametrize("text,message", [
    (HEADER, "no measurements"),
    (HEADER + ROW.replace("9.5", "nan"), "line 2, column 'latency_mean_encoder' is nan"),
    (HEADER + ROW + ROW.replace("2048.0", "abc"), "line 3, column 'encoder_ffn_embed_dim_avg': 'abc' is not a number"),
    (HEADER + ROW.replace(",2.0\n", "\n"), None),  # a short row: std columns are not needed
    (HEADER + "512,6\n", "line 2, column 'encoder_ffn_embed_dim_avg': None"),
    (HEADER.replace("decoder_layer_num", "layers"), "column 'decoder_layer_num' is missing"),
    (HEADER + ROW.replace("200.0", "-1"), "must be positive"),
])
def test_bad_csv_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "x.csv"
    path.write_text(text)
    if message is None:
        assert len(read_hat_csv(path)) == 1
        return
    with pytest.raises(DataFileError, match=message.replace("(", r"\(")) as info:
        read_hat_csv(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        read_hat_csv(tmp_path / "none.csv")


def test_op_features_match_the_spaces_op_list():
    """Encoder projection + FFN MACs from averaged columns equal the linear MACs `space.ops` lists."""
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    archs = [space.sample(i) for i in range(20)]
    archs = [a.replace(encoder_attn=["softmax"] * 6, decoder_attn=["softmax"] * a["decoder_layers"]) for a in archs]
    enc = hat_op_features(hat_rows_from_archs(archs))["encoder"]
    for arch, row in zip(archs, enc):
        ops = space.ops(arch)
        second_embedding = [i for i, op in enumerate(ops) if op.kind == "embedding"][1]
        linear_macs = sum(op.macs for op in ops[:second_embedding] if op.kind == "linear")
        attention_macs = sum(op.macs for op in ops[:second_embedding] if op.kind == "attention")
        assert row[1] + row[3] == pytest.approx(linear_macs)
        assert row[2] == pytest.approx(attention_macs)
    assert enc.shape[1] == PHYSICAL_WIDTH["encoder"] + 10


def test_calibrate_on_400_rows_and_round_trip(small_hat_csv, tmp_path):
    profile, model = calibrate_hat_csv(small_hat_csv)
    assert profile.device == "xeon" and profile.kind == "cpu" and profile.n_measurements == 400
    m = profile.validation["metrics"]
    assert m["n"] == 80 and m["acc10"] >= 0.8 and m["kendall_tau"] >= 0.8
    assert profile.provenance["licence"].startswith("MIT") is False  # the temp copy has no LICENSE beside it
    out = save_profile(profile, model, tmp_path / "xeon")
    loaded = load_profile(out)
    data = read_hat_csv(small_hat_csv)
    parts = hat_op_features(data.features)
    np.testing.assert_allclose(loaded.predict_parts(parts), profile.predict_parts(parts), rtol=1e-12)
    assert metrics.acc10(data.total_ms, loaded.predict_parts(parts)) >= 0.85
