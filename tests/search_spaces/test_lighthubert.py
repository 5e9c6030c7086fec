"""lighthubert presets reproduce the official LightHuBERT supernets."""

from __future__ import annotations

import torch

from hwnas.search_spaces import get_space
from hwnas.search_spaces._ops import total_params

# calc_sampled_param_num of the official code (extractor mode "default"), which counts the mask embedding at 768.
OFFICIAL = {"base": (41_243_392, 94_371_584), "small": (11_442_944, 44_392_192)}
PUBLISHED_M = {"base": (41, 94), "small": (11, 44)}


def _mask_embedding_gap(arch) -> int:
    return 768 - arch["embed_dim"]


def test_subnet_counts_equal_the_official_ones():
    assert get_space("lighthubert", "base").num_subnets() == 6_530_347_008
    assert get_space("lighthubert", "small").num_subnets() == 951_892_141_473


def test_smallest_and_largest_sizes_match_official_counts():
    for preset, (official_min, official_max) in OFFICIAL.items():
        space = get_space("lighthubert", preset)
        for arch, official, published in ((space.min_arch(), official_min, PUBLISHED_M[preset][0]),
                                          (space.max_arch(), official_max, PUBLISHED_M[preset][1])):
            ours = total_params(space.ops(arch))
            assert ours == official - _mask_embedding_gap(arch), (preset, arch)
            assert int(ours / 1e6) == published


def test_small_depth_layout_drops_the_official_layers(supernets):
    space, supernet = supernets("lighthubert", "small")
    arch = space.min_arch()  # 10 layers
    supernet.set_active(arch)
    assert supernet.net.layers.active_indices() == (0, 1, 2, 3, 4, 5, 6, 8, 9, 10)
    with supernet.active(space.max_arch()):
        assert supernet.net.layers.active_indices() == tuple(range(12))
    assert supernet.net.layers.active_indices() == (0, 1, 2, 3, 4, 5, 6, 8, 9, 10)


def test_attention_width_is_64_per_head_independent_of_embed():
    space = get_space("lighthubert", "small")
    arch = space.min_arch().replace(heads=(8,) * 10)  # 512-wide attention in a 256-wide model
    q_proj = next(op for op in space.ops(arch) if op.kind == "linear" and op["cin"] == 256)
    assert q_proj["cout"] == 512


def test_mask_embedding_replaces_masked_frames(supernets):
    space, supernet = supernets("lighthubert", "tiny")
    (wave,) = space.example_input(2)
    mask = torch.zeros(2, supernet.net.features.frames(wave.shape[-1]), dtype=torch.bool)
    mask[:, :3] = True
    with torch.no_grad():
        assert not torch.allclose(supernet(wave), supernet(wave, mask))
        subnet = supernet.extract(space.max_arch())
        supernet.set_active(space.max_arch())
        torch.testing.assert_close(subnet(wave, mask), supernet(wave, mask))
