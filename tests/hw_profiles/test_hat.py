"""HAT latency CSVs: parsing, rows as archs of `hat-wmt14-en-de`, HAT's decode as ops, op-level calibration."""

import numpy as np
import pytest

from hwnas.errors import DataFileError, MeasurementError
from hwnas.hw_profiles import (
    HAT_COLUMNS, calibrate_hat_csv, hat_archs, hat_source, load_profile, predict_archs_ms, read_hat_csv, save_profile,
)
from hwnas.hw_profiles._hat import SETUPS, hat_space
from hwnas.hw_profiles._sources import source_ms
from hwnas.predictors import metrics
from hwnas.search_spaces import get_space
from hwnas.search_spaces.mixed_attention import ende_memory_layers, hat_latency_features
from hwnas.search_spaces.specs import DecodingLayerSpec, TokenDecodingSpec

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


def _class_sums(space, arch) -> dict[str, tuple[int, int, int]]:
    """(ops, MACs, output elements) per op kind of the arch's latency workload; a cross-attention's outputs (heads ×
    attended encoder layers, whose pairing a HAT row does not hold) are left out."""
    from hwnas.hw_profiles._op_level import out_elements

    sums: dict[str, list[int]] = {}
    for block in space.latency_blocks(arch):
        for op in block.ops():
            entry = sums.setdefault(op.kind if op.kind != "attention" else f"attention-{op['attn']}", [0, 0, 0])
            entry[0] += 1
            entry[1] += op.macs
            cross = op.kind == "attention" and not op["causal"] and op["n_q"] != op["n_kv"]  # a decode step over memory
            entry[2] += 0 if cross else out_elements(op)
    return {k: tuple(v) for k, v in sums.items()}


def test_rows_become_archs_with_the_same_ops(tmp_path):
    """An averaged row is rebuilt as an arch whose op counts, MACs and output elements (but the cross-attention's,
    see `hwnas.hw_profiles._hat`) sum to the original arch's."""
    space = hat_space(SETUPS["wmt14ende"])
    originals = [space.sample(seed) for seed in range(30)]
    path = tmp_path / "wmt14ende_cpu_mine_all.csv"
    path.write_text(HEADER + "".join(",".join(str(v) for v in hat_latency_features(a).values()) + ",1,2,0,0\n" for a in originals))
    rebuilt = hat_archs(read_hat_csv(path), space)
    for original, arch in zip(originals, rebuilt):
        assert hat_latency_features(arch) == pytest.approx(hat_latency_features(original))
        assert _class_sums(space, arch) == _class_sums(space, original)


def test_every_row_of_hats_files_is_an_arch(hat_xeon_csv):
    data = read_hat_csv(hat_xeon_csv)
    archs = hat_archs(data, hat_space(data.setup))
    np.testing.assert_allclose([list(hat_latency_features(a).values()) for a in archs], data.features, rtol=1e-12)


def test_a_row_no_arch_reaches_is_named(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + ROW + ROW.replace("2048.0", "600.0"))
    with pytest.raises(DataFileError, match=r"line 3, column 'encoder_ffn_embed_dim_avg': an average of 600 over 6 layers"):
        hat_archs(read_hat_csv(path), hat_space(read_hat_csv(path).setup))
    path.write_text(HEADER + ROW.replace("512,3,", "512,3.5,"))
    with pytest.raises(DataFileError, match=r"line 2, column 'decoder_layer_num': 3.5 layers is not a whole number"):
        hat_archs(read_hat_csv(path), hat_space(read_hat_csv(path).setup))


def test_a_file_that_names_no_hat_task_is_priced_as_wmt_and_says_so(tmp_path):
    path = tmp_path / "my_board.csv"
    path.write_text(HEADER + ROW)
    assert hat_source(path).provenance["workload"]["task"].startswith("wmt14ende (assumed")
    assert read_hat_csv(path).setup.sentence == 30


def test_the_decode_is_hats_measurement():
    """The decode's MACs by an independent count of what HAT's script runs: the encoder once on 30 tokens; 30 steps
    of 5 hypotheses, keys and values cached, the cross-attention's memory projected once, the vocabulary every step."""
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    q, n, steps, beam, vocab = 512, 30, 30, 5, 32768
    for arch in [space.max_arch(), space.min_arch(), *(space.sample(s) for s in range(10))]:
        e, d = arch["encoder_embed_dim"], arch["decoder_embed_dim"]
        norms = 5  # fvcore counts 5 per LayerNorm element: two after each encoder layer's sublayers, three in the decoder's
        attention = {"softmax": lambda h: 2 * n * n * q, "cosformer": lambda h: 4 * n * q * (q // h) + 2 * n * q}  # kᵀv, q(kᵀv)
        encoder = sum(n * (4 * e * q + 2 * e * f) + attention[kind](h) + 2 * norms * n * e
                      for f, kind, h in zip(arch["encoder_ffn_dim"], arch["encoder_attn"], arch["encoder_heads"]))
        decoder = vocab * d * beam * steps
        for f, ende, kind in zip(arch["decoder_ffn_dim"], arch["decoder_ende_attn"], arch["decoder_attn"]):
            memory = n * ende_memory_layers(ende)
            per_step = beam * (4 * d * q + 2 * d * q + 2 * d * f + 2 * memory * q + 3 * norms * d)
            cached = beam * q * sum(range(1, steps + 1)) * (2 if kind == "softmax" else 3)
            decoder += steps * per_step + cached + 2 * beam * memory * e * q
        blocks = space.latency_blocks(arch)
        assert sum(op.macs for b in blocks for op in b.ops()) == encoder + decoder
        assert sum(isinstance(b, DecodingLayerSpec) for b in blocks) == arch["decoder_layers"]
        assert [b for b in blocks if isinstance(b, TokenDecodingSpec)] == [TokenDecodingSpec(steps, beam, vocab, d)]
    assert "decode 30 steps at beam 5" in space.latency_workload
    tiny = get_space("mixed-attention", "tiny-mt")
    assert tiny.latency_workload is None and tiny.latency_blocks(tiny.max_arch()) == tiny.blocks(tiny.max_arch())


def test_a_decoding_preset_is_not_measured_as_a_forward_pass():
    from hwnas.hw_profiles._timing import subnet_samples

    space = get_space("mixed-attention", "hat-wmt14-en-de", vocab_size=64)
    with pytest.raises(MeasurementError, match="hat-wmt14-en-de's latency is defined as: translate one sentence"):
        subnet_samples(space, [space.min_arch()], space.default_input_shape, 1, 1)


def test_iwslt_rows_run_their_own_sentence_and_vocabulary(tmp_path, hat_xeon_csv):
    lines = hat_xeon_csv.read_text().splitlines(keepends=True)
    path = tmp_path / "iwslt14deen_gpu_titanxp_all.csv"
    path.write_text("".join(lines[:21]))
    source = hat_source(path)
    assert not source.own_workload and source.provenance["workload"]["src_tokens"] == 23
    tokens = [b for blocks in source.blocks() for b in blocks if isinstance(b, TokenDecodingSpec)]
    assert {(t.steps, t.vocab) for t in tokens} == {(23, 6632)}


def test_calibrate_on_400_rows_and_round_trip(small_hat_csv, tmp_path):
    profile, model = calibrate_hat_csv(small_hat_csv)
    assert profile.device == "xeon" and profile.kind == "cpu" and profile.n_measurements == 400
    assert profile.domain["features"] == "op-level-v1"
    assert {"linear", "attention-softmax", "layernorm", "act-relu", "add", "embedding"} == set(profile.domain["op_classes"])
    m = profile.validation["metrics"]
    assert m["n"] == 80 and m["acc10"] >= 0.8 and m["kendall_tau"] >= 0.8
    assert profile.provenance["licence"].startswith("MIT") is False  # the temp copy has no LICENSE beside it
    assert profile.provenance["sources"][0]["workload"]["decode_steps"] == 30
    loaded = load_profile(save_profile(profile, model, tmp_path / "xeon"))
    source = hat_source(small_hat_csv)
    predicted = source_ms(loaded, source)
    assert metrics.acc10(source.latency_ms, predicted) >= 0.85
    np.testing.assert_allclose(predicted, source_ms(profile, source), rtol=1e-12)  # saved, the model is the profile's
    tiny = get_space("mixed-attention", "tiny")  # a space HAT never measured: priced by its ops
    assert predict_archs_ms(loaded, tiny, [tiny.max_arch()])[0] > 0
