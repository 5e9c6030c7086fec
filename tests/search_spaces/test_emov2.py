"""emov2: the official EMOv2 models are points of the space, with their published sizes."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import torch

from hwnas.errors import InvalidArchError
from hwnas.search_spaces import Arch, get_space
from hwnas.search_spaces._ops import total_macs, total_params
from hwnas.search_spaces.elastic.conv import ElasticLayerScale
from hwnas.search_spaces.specs import I2RMBSpec

# ImageNet-1K at 224×224, 1,000 classes: (params, FLOPs = fvcore MACs). 1M/2M/5M: the README table of
# zhangzjn/EMOv2 ("1.4M 285M", "2.3M 487M", "5.1M 1035M"); 20M: Table XIX of arXiv:2412.06674 (20.1M, 4.0G).
# The parameter figures are truncated to 0.1M: the official 1M model itself has 1.461M (its training log).
PUBLISHED = {"emov2-1m": (1.4e6, 285e6), "emov2-2m": (2.3e6, 487e6), "emov2-5m": (5.1e6, 1035e6), "emov2-20m": (20.1e6, 4.0e9)}
# The fvcore tables the official training logs print (resources/Cls/log_train_EMOv2_{1M,2M,5M}_224.txt).
OFFICIAL_LOGS = {"emov2-1m": (1.461e6, 0.285e9), "emov2-2m": (2.384e6, 0.487e9), "emov2-5m": (5.126e6, 1.035e9)}


def test_named_models_match_published_params_and_flops():
    space = get_space("emov2")
    assert set(space.named_archs()) == set(PUBLISHED)
    for name, (params, flops) in PUBLISHED.items():
        ops = space.ops(space.named_arch(name))
        exact_params = OFFICIAL_LOGS.get(name, (params, flops))[0]
        assert abs(total_params(ops) - exact_params) <= 0.03 * exact_params, (name, total_params(ops))
        assert params <= total_params(ops) < params + 0.1e6, (name, total_params(ops))  # consistent with truncation
        assert abs(total_macs(ops) - flops) <= 0.05 * flops, (name, total_macs(ops))
    for name, (params, flops) in OFFICIAL_LOGS.items():  # to the logs' last digit
        ops = space.ops(space.named_arch(name))
        assert abs(total_params(ops) - params) <= 0.0005e6 and abs(total_macs(ops) - flops) <= 0.0005e9, name


def test_blocks_match_the_official_fvcore_table():
    """EMOv2-5M rows of the official log: (params, FLOPs) of stage1.0, stage3.1 and stage4.2."""
    space = get_space("emov2")
    blocks = [b for b in space.blocks(space.named_arch("emov2-5m")) if isinstance(b, I2RMBSpec)]
    rows = {(0, 0, (112, 112)): (9_696, 52.083e6), (2, 1, (14, 14)): (0.275e6, 69.086e6), (3, 2, (7, 7)): (0.863e6, 49.152e6)}
    for (stage, index, hw), (params, flops) in rows.items():
        b = [b for b in blocks if b.stage == stage][index]
        assert b.hw == hw and b.window == 7 and b.norm == ("bn" if stage < 2 else "ln")
        ops = b.ops()
        assert abs(total_params(ops) - params) <= 0.0005e6 and abs(total_macs(ops) - flops) <= 0.0005e6, (stage, index)


def test_named_archs_validate_and_build(supernets):
    space, supernet = supernets("emov2", "imagenet")
    x = space.example_input(1, (3, 64, 64))
    for name, arch in space.named_archs().items():
        assert space.validate(Arch.from_json(arch.to_json())) == arch  # as a user's arch file gives it
        subnet = supernet.extract(arch).eval()
        assert sum(p.numel() for p in subnet.parameters()) == total_params(space.ops(arch)), name
        with torch.no_grad():
            assert subnet(*x).shape == (1, 1000)


@pytest.mark.parametrize("preset,shape", [("tiny", None), ("imagenet", (3, 64, 64))])
def test_every_branch_shows_in_extracted_subnets(supernets, preset, shape):
    """Layer scale starts at 1e-6 (official), which hides the residual branches; set it to 1 to test them."""
    space, supernet = supernets("emov2", preset)
    scales = [m for m in supernet.modules() if isinstance(m, ElasticLayerScale)]
    saved = [m.gamma.detach().clone() for m in scales]
    rng, x = random.Random(11), space.example_input(2, shape)
    try:
        with torch.no_grad():
            for m in scales:
                m.gamma.fill_(1.0)
        for arch in [space.max_arch()] + [space.sample(rng) for _ in range(6)]:
            supernet.set_active(arch)
            with torch.no_grad():
                torch.testing.assert_close(supernet.extract(arch)(*x), supernet(*x), atol=1e-5, rtol=1e-4)
    finally:
        with torch.no_grad():
            for m, gamma in zip(scales, saved):
                m.gamma.copy_(gamma)


def test_fresh_subnets_see_their_input():
    """A stage's first block has no skip, so its layer scale starts at 1: at 1e-6 (the official value) each stage
    shrank the signal a millionfold, every input gave the same logits, and training from scratch sat at chance."""
    space = get_space("emov2", "tiny")
    torch.manual_seed(0)
    x = torch.randn(16, 3, 32, 32)
    for arch in (space.max_arch(), space.min_arch()):
        subnet = space.build_supernet().extract(arch).eval()
        with torch.no_grad():
            logits = subnet(x)
        assert (logits - logits.mean(0)).abs().mean() > 0.1 * logits.abs().mean()
    largest = space.build_supernet().extract(space.max_arch())
    first, second = [m for m in largest.modules() if type(m).__name__ == "I2RMB"][:2]
    assert not first.skip and first.scale.gamma.detach().min().item() == 1.0
    assert second.skip and second.scale.gamma.detach().max().item() == pytest.approx(1e-6)


def test_heads_zero_means_conv_expansion_and_odd_splits_work(supernets):
    space, supernet = supernets("emov2", "imagenet")
    arch = space.named_arch("emov2-5m")
    conv = arch.replace(s3_heads=(0,) * 8, s4_heads=(0, 0))
    assert total_macs(space.ops(conv)) < total_macs(space.ops(arch))
    assert "SpanningWindowAttention" not in {type(m).__name__ for m in supernet.extract(conv).modules()}
    # 640-channel values over 6 heads: groups of 107 and 106 channels.
    odd = arch.replace(s3_heads=(6,) * 8)
    subnet = supernet.extract(odd).eval()
    supernet.set_active(odd)
    x = space.example_input(1, (3, 64, 64))
    with torch.no_grad():
        torch.testing.assert_close(subnet(*x), supernet(*x))


def test_bad_archs_name_the_field():
    space = get_space("emov2", "tiny")
    with pytest.raises(InvalidArchError, match="'s3_heads.0' = 3"):
        space.validate(space.min_arch().replace(s3_heads=(3,)))
    with pytest.raises(InvalidArchError, match="'s2_heads'"):
        space.validate(space.min_arch().replace(s2_heads=(2,)))
    with pytest.raises(ValueError, match="num_classes must be a positive int, got -1"):
        get_space("emov2", num_classes=-1)


def test_tiny_preset_runs_on_32_pixel_images(supernets):
    space, supernet = supernets("emov2", "tiny")
    with torch.no_grad():
        assert supernet(*space.example_input(4)).shape == (4, 10)
    assert space.default_input_shape == (3, 32, 32)


def test_cli_cost_prints_the_published_5m_model():
    out = subprocess.run([sys.executable, "-m", "hwnas.cli", "cost", "emov2", "--arch", "emov2-5m", "--input", "224",
                          "--num-classes", "1000", "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["params"] == 5_126_440 and result["macs"] == result["ops_macs"] == 1_035_473_760
    assert result["space"] == "emov2" and result["preset"] == "imagenet"
