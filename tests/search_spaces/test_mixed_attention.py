"""mixed-attention presets reproduce mixFormer's and HAT's published configurations."""

from __future__ import annotations

import csv

import pytest

from hwnas.search_spaces import get_space
from hwnas.search_spaces._hat_named import hat_published_params_m
from hwnas.search_spaces._ops import total_params
from hwnas.search_spaces.mixed_attention import hat_latency_features


def _params_without_embeddings(space, arch):
    ops = space.ops(arch)
    return total_params(ops) - sum(op.params for op in ops if op.kind == "embedding")


def test_hat_supertransformer_size_as_hat_counts_it():
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    assert _params_without_embeddings(space, space.max_arch()) == 70_900_992
    assert space.max_arch()["encoder_attn"] == ("softmax",) * 6


@pytest.mark.parametrize("name,published_m", sorted(hat_published_params_m().items()))
def test_published_hat_subtransformers_are_named_archs_with_their_sizes(name, published_m):
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    arch = space.named_arch(name)
    assert round(_params_without_embeddings(space, arch) / 1e6, 2) == pytest.approx(published_m, abs=0.005)


def test_hat_flops_match_published_table():
    """HAT reports FLOPs (2×MACs) without the embedding lookup and output layer, for 30-token sentences."""
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    published_gflops = {"hat-raspberrypi-3.5s": 1.53, "hat-raspberrypi-6.0s": 2.70, "hat-xeon-450.9ms": 3.53,
                        "hat-titanxp-146.7ms": 3.17}
    for name, gflops in published_gflops.items():
        ops = space.ops(space.named_arch(name))
        macs = sum(op.macs for op in ops if not (op.kind == "linear" and op["tied"]))
        assert 2 * macs / 1e9 == pytest.approx(gflops, rel=0.01), name


def test_cifar10_vit_space_matches_the_official_config():
    space = get_space("mixed-attention", "cifar10-vit")
    largest = space.max_arch()
    assert largest["embed_dim"] == 448 and largest["layers"] == 14
    assert set(largest["attn"]) == {"relative"} and set(largest["heads"]) == {7} and set(largest["ffn_dim"]) == {1792}
    relative_tables = 14 * (2 * 16 + 1) * 64
    assert round((total_params(space.ops(largest)) - relative_tables) / 1e6, 2) == 34.24
    assert round(total_params(space.ops(space.min_arch())) / 1e6, 2) == 10.43
    # 45 options per layer (5 FFN x 3 heads x 3 kinds), 3 widths, 3 relative ranges
    assert space.num_subnets() == 3 * 3 * sum(45**d for d in (12, 13, 14))
    ops = space.ops(largest)
    assert ops[-1]["n"] == 1  # the head sees one pooled vector
    attention = [op for op in ops if op.kind == "attention"]
    assert len(attention) == 14 and {op["n_q"] for op in attention} == {197}  # 14x14 patches + class token


def test_decoder_attends_to_the_last_encoder_layers():
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    arch = space.named_arch("hat-raspberrypi-6.9s")  # enc-dec attention [-1, 1, 1, 1, -1]
    cross = [op for op in space.ops(arch) if op.kind == "attention" and op["n_kv"] != op["n_q"]]
    assert [op["n_kv"] for op in cross] == [60, 60, 60]  # 2 layers x 30 tokens where the value is 1


def test_hat_latency_rows_are_points_of_the_space(hwnas_data):
    """Every measured row of HAT's datasets is reachable: its features are averages of in-space choices."""
    path = hwnas_data / "hat-latency" / "wmt14ende_cpu_raspberrypi_all.csv"
    space = get_space("mixed-attention", "hat-wmt14-en-de")
    rows = list(csv.DictReader(path.open()))
    features = hat_latency_features(space.named_arch("hat-raspberrypi-6.0s"))
    assert set(features) == {k for k in rows[0] if not k.startswith("latency_")}
    for row in rows:
        assert int(row["encoder_embed_dim"]) in (512, 640) and int(row["decoder_embed_dim"]) in (512, 640)
        assert 1 <= int(row["decoder_layer_num"]) <= 6
        assert 512 <= float(row["encoder_ffn_embed_dim_avg"]) <= 3072
        assert 1 <= float(row["decoder_arbitrary_ende_attn_avg"]) <= 3
    assert features["decoder_arbitrary_ende_attn_avg"] == 1.25  # [-1, -1, 1, -1] -> layers attended 1, 1, 2, 1
