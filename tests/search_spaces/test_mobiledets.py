"""mobiledets: the published SSDLite MobileDets are points of the space, with their published sizes."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from hwnas.errors import InvalidArchError
from hwnas.search_spaces import get_space, recalibrate_bn
from hwnas.search_spaces._ops import total_macs, total_params
from hwnas.search_spaces.elastic.conv import ElasticBatchNorm2d
from hwnas.search_spaces.mobiledets import LayerOp, detector_anchors

# Published SSDLite detectors at 320×320 with 90 COCO classes: (MulAdds, parameters), from the headers of
# tensorflow/models research/object_detection/samples/configs/ssdlite_mobiledet_{cpu,dsp,edgetpu,gpu}_
# 320x320_coco_sync_4x4.config ("0.45B MulAdds, 4.21M Parameters", ...). The TF parameter counts include
# BatchNorm's moving mean and variance; the MulAdds leave BatchNorm out (it folds into the convs).
PUBLISHED = {
    "mobiledet-cpu": (0.45e9, 4.21e6),
    "mobiledet-dsp": (2.82e9, 7.16e6),
    "mobiledet-edgetpu": (1.53e9, 4.20e6),
    "mobiledet-gpu": (5.07e9, 13.11e6),
}


def test_named_detectors_match_published_params_and_macs():
    space = get_space("mobiledets")
    assert set(space.named_archs()) == set(PUBLISHED)
    for name, (published_macs, published_params) in PUBLISHED.items():
        ops = space.ops(space.named_arch(name))
        params, macs = total_params(ops), total_macs(ops)  # PyTorch parameters; fvcore MACs (BN: 2 per element)
        bn_statistics = sum(2 * op["channels"] for op in ops if op.kind == "batchnorm")
        assert abs(params - published_params) <= 0.05 * published_params, (name, params)
        assert abs(macs - published_macs) <= 0.05 * published_macs, (name, macs)
        # Counted as the TF Object Detection API counts, they agree to the published rounding.
        assert abs(params + bn_statistics - published_params) <= 0.005e6, (name, params + bn_statistics)
        conv_macs = sum(op.macs for op in ops if op.kind != "batchnorm")
        assert abs(conv_macs - published_macs) <= 0.015 * published_macs, (name, conv_macs)


def test_named_archs_validate_and_build(supernets):
    space, supernet = supernets("mobiledets", "ssdlite-coco")
    x = space.example_input(1, (3, 64, 64))
    for name, arch in space.named_archs().items():
        assert space.validate(arch.to_dict()) == arch
        subnet = supernet.extract(arch).eval()
        assert sum(p.numel() for p in subnet.parameters()) == total_params(space.ops(arch)), name
        with torch.no_grad():
            assert subnet(*x).shape == (1, detector_anchors(space, (3, 64, 64)), 4 + 91)


def test_detector_output_has_the_ssdlite_anchor_count_at_320(supernets):
    space, supernet = supernets("mobiledets", "ssdlite-coco")
    subnet = supernet.extract(space.named_arch("mobiledet-cpu")).eval()
    with torch.no_grad():
        out = subnet(*space.example_input(1))
    # 20²·3 + (10² + 5² + 3² + 2² + 1²)·6 anchors, as the TF exports of 320×320 SSDLite models hold.
    assert out.shape == (1, 2034, 95) and detector_anchors(space) == 2034


def test_cpu_backbone_uses_hard_swish_and_squeeze_excite(supernets):
    space, supernet = supernets("mobiledets", "ssdlite-coco")
    subnet = supernet.extract(space.named_arch("mobiledet-cpu"))
    kinds = {type(m).__name__ for m in subnet.modules()}
    assert {"Hardswish", "SqueezeExcite"} <= kinds and "ReLU6" in kinds  # ReLU6 in the SSDLite head
    dsp = {type(m).__name__ for m in supernet.extract(space.named_arch("mobiledet-dsp")).modules()}
    assert "Hardswish" not in dsp and "SqueezeExcite" not in dsp and "TuckerBlock" in dsp


def test_three_by_three_layer_uses_the_transformed_centre(supernets):
    space, supernet = supernets("mobiledets", "tiny")
    arch = space.min_arch().replace(s3_ops=("fused_k3_e4",), activation="relu6")
    layer = supernet.net.stages[2].layers[0].options["fused"].expand.conv
    saved = layer.transforms["5to3"].detach().clone()
    try:
        with torch.no_grad():
            layer.transforms["5to3"].copy_(torch.randn(9, 9, generator=torch.Generator().manual_seed(0)))
        supernet.set_active(arch)
        conv = supernet.extract(arch).stages[2][0].expand.conv
        cin = int(arch["s2_width"])
        centre = layer.weight[: cin * 4, :cin, 1:4, 1:4]
        expected = (centre.reshape(-1, 9) @ layer.transforms["5to3"].T).reshape(centre.shape)
        assert conv.kernel_size == (3, 3)
        torch.testing.assert_close(conv.weight, expected)
    finally:
        with torch.no_grad():
            layer.transforms["5to3"].copy_(saved)


def test_layer_ops_parse_and_bad_ops_are_named():
    assert LayerOp.parse("tucker_k5_i0.25_o0.75") == LayerOp("tucker", 5, in_ratio=0.25, out_ratio=0.75)
    assert LayerOp.parse("fused_k3_e8") == LayerOp("fused", 3, expansion=8)
    space = get_space("mobiledets", "tiny")
    with pytest.raises(InvalidArchError, match="'s2_ops.0' = 'ibn_k7_e4'"):
        space.validate(space.min_arch().replace(s2_ops=("ibn_k7_e4",)))
    with pytest.raises(InvalidArchError, match="'s1_ops.0' = 'fused_k3_e4'"):
        space.validate(space.min_arch().replace(s1_ops=("fused_k3_e4",)))
    with pytest.raises(InvalidArchError, match="'s3_ops' has 1 values but 2 layers"):
        space.validate(space.min_arch().replace(s3_depth=2))


def test_tiny_preset_classifies_and_takes_num_classes(supernets):
    space, supernet = supernets("mobiledets", "tiny")
    with torch.no_grad():
        assert supernet(*space.example_input(3)).shape == (3, 10)
    assert get_space("mobiledets", "tiny", num_classes=7).ops(space.min_arch())[-1]["cout"] == 7
    assert get_space("mobiledets", num_classes=20).ops(get_space("mobiledets").named_arch("mobiledet-cpu"))[-1]["cout"] == 6 * 21
    with pytest.raises(ValueError, match="num_classes must be a positive int, got 0"):
        get_space("mobiledets", num_classes=0)


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8×8 digits, resized to 32×32 RGB and standardised."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=32, mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    return (x - x.mean()) / x.std(), torch.tensor(digits.target)


def test_bn_recalibration_restores_a_subnets_accuracy_on_digits():
    x, y = _digits()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    train, test = order[:1400], order[1400:]
    torch.manual_seed(0)
    space = get_space("mobiledets", "tiny")
    supernet = space.build_supernet()
    rng = random.Random(0)
    arch = space.sample(rng)
    optimizer = torch.optim.Adam(supernet.parameters(), lr=3e-3)
    supernet.train()
    # One-shot training in the arch's neighbourhood: its mutants update the same BatchNorm buffers.
    for step in range(40):
        batch = train[torch.randint(0, len(train), (64,))]
        supernet.set_active(arch if step % 2 == 0 else space.mutate(arch, rng, prob=0.3))
        loss = F.cross_entropy(supernet(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def accuracy() -> float:
        supernet.set_active(arch)
        supernet.eval()
        with torch.no_grad():
            return (supernet(x[test]).argmax(dim=1) == y[test]).float().mean().item()

    norms = [m for m in supernet.modules() if isinstance(m, ElasticBatchNorm2d)]
    shared_stats = [m.running_mean.clone() for m in norms]
    before = accuracy()
    loader = [(x[train[i : i + 200]], y[train[i : i + 200]]) for i in range(0, len(train), 200)]
    assert recalibrate_bn(supernet, arch, loader, max_batches=5) is supernet
    assert not supernet.training and all(m.momentum == 0.1 for m in norms)
    assert any(not torch.equal(m.running_mean, old) for m, old in zip(norms, shared_stats))
    after = accuracy()
    assert after >= before + 0.2 and after >= 0.4, (before, after)
    # The extracted subnet carries the recalibrated statistics.
    subnet = supernet.extract(arch).eval()
    with torch.no_grad():
        assert (subnet(x[test]).argmax(dim=1) == y[test]).float().mean().item() == pytest.approx(after)


def test_bn_recalibration_errors_name_the_problem(supernets):
    space, supernet = supernets("mobiledets", "tiny")
    with pytest.raises(ValueError, match="loader yielded no batches"):
        recalibrate_bn(supernet, space.min_arch(), [])
    with pytest.raises(TypeError, match="batch of type str"):
        recalibrate_bn(supernet, space.min_arch(), ["not a tensor"])
    with pytest.raises(InvalidArchError, match="bogus"):
        recalibrate_bn(supernet, space.min_arch().replace(bogus=1), [torch.zeros(1, 3, 32, 32)])
    lighthubert, transformer = supernets("lighthubert", "tiny")
    with pytest.raises(ValueError, match="space 'lighthubert' has no BatchNorm"):
        recalibrate_bn(transformer, lighthubert.min_arch(), [torch.zeros(1, 40)])
