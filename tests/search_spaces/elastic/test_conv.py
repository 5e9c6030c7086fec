"""Elastic conv leaves and blocks: kernel transforms, sliced BatchNorm, choices and window attention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces.elastic import export_module
from hwnas.search_spaces.elastic.conv import (
    ElasticActivation, ElasticBatchNorm2d, ElasticChoice, ElasticConv2d, ElasticDepthwiseConv2d, ElasticLayerScale,
)
from hwnas.search_spaces._conv_math import make_divisible
from hwnas.search_spaces._conv_specs import IBNSpec, TuckerSpec
from hwnas.search_spaces.elastic.conv_blocks import InvertedBottleneck, SqueezeExcite, TuckerBlock
from hwnas.search_spaces.elastic.emo_blocks import SpanningWindowAttention, window_attention


def _randomise_transforms(layer: nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for matrix in layer.transforms.values():
            matrix.copy_(torch.randn(matrix.shape, generator=generator))


def _transformed_centre(weight: torch.Tensor, matrix: torch.Tensor, size: int) -> torch.Tensor:
    start = (weight.shape[-1] - size) // 2
    centre = weight[..., start : start + size, start : start + size]
    return (centre.reshape(-1, size * size) @ matrix.T).reshape(centre.shape)


def test_three_by_three_subnet_uses_the_transformed_centre_of_the_five_by_five_weight():
    torch.manual_seed(0)
    conv = ElasticConv2d(6, 8, (3, 5), stride=1)
    x = torch.randn(2, 4, 9, 9)
    conv.configure(4, 5, kernel=3)
    # Initialised to the identity: a 3×3 subnet starts as the plain centre crop of the 5×5 weight.
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight[:5, :4, 1:4, 1:4], padding=1))
    _randomise_transforms(conv)
    expected_weight = _transformed_centre(conv.weight[:5, :4], conv.transforms["5to3"], 3)
    torch.testing.assert_close(conv(x), F.conv2d(x, expected_weight, padding=1))
    plain = conv.export()
    assert isinstance(plain, nn.Conv2d) and plain.kernel_size == (3, 3) and plain.padding == (1, 1)
    torch.testing.assert_close(plain.weight, expected_weight)
    torch.testing.assert_close(plain(x), conv(x))
    assert sum(p.numel() for p in plain.parameters()) == 5 * 4 * 9  # the transform stays in the supernet


def test_depthwise_kernel_chain_applies_each_step_down():
    conv = ElasticDepthwiseConv2d(6, (3, 5, 7), stride=2)
    _randomise_transforms(conv, seed=1)
    x = torch.randn(1, 6, 11, 11)
    conv.configure(6, kernel=3)
    five = _transformed_centre(conv.weight, conv.transforms["7to5"], 5)
    three = _transformed_centre(five, conv.transforms["5to3"], 3)
    torch.testing.assert_close(conv(x), F.conv2d(x, three, stride=2, padding=1, groups=6))
    conv.configure(6, kernel=5)
    torch.testing.assert_close(conv.export().weight, five)
    conv.configure(6, kernel=7)
    torch.testing.assert_close(conv.export().weight, conv.weight)


def test_kernel_transforms_learn_from_three_by_three_subnets_only():
    conv = ElasticDepthwiseConv2d(4, (3, 5))
    conv.configure(4, kernel=5)
    conv(torch.randn(1, 4, 6, 6)).sum().backward()
    assert conv.transforms["5to3"].grad is None
    conv.configure(4, kernel=3)
    conv(torch.randn(1, 4, 6, 6)).sum().backward()
    assert conv.transforms["5to3"].grad.abs().sum() > 0


def test_configure_names_bad_sizes():
    conv = ElasticConv2d(8, 8, (3, 5))
    with pytest.raises(ValueError, match="kernel size 7 is not one of this layer's sizes"):
        conv.configure(8, 8, kernel=7)
    with pytest.raises(ValueError, match="conv 9→8 channels outside this layer's 8→8"):
        conv.configure(9, 8)
    with pytest.raises(ValueError, match="depthwise conv of 12 channels"):
        ElasticDepthwiseConv2d(8).configure(12)
    with pytest.raises(ValueError, match="kernel sizes must be odd"):
        ElasticConv2d(4, 4, (2, 3))
    with pytest.raises(ValueError, match="unknown activation 'swish7'"):
        ElasticActivation("swish7")
    with pytest.raises(ValueError, match="option 'skip' is not one of"):
        ElasticChoice({"on": nn.ReLU()}).configure("skip")


def test_batchnorm_updates_only_the_active_slice_and_exports_it():
    norm = ElasticBatchNorm2d(8, momentum=None)
    x = torch.randn(16, 5, 4, 4) * 3 + 2
    norm.train()
    norm(x)
    torch.testing.assert_close(norm.running_mean[:5], x.mean(dim=(0, 2, 3)))
    assert torch.equal(norm.running_mean[5:], torch.zeros(3)) and torch.equal(norm.running_var[5:], torch.ones(3))
    norm.active_features = 5
    with torch.no_grad():
        norm.weight.uniform_()
        norm.bias.uniform_()
    plain = norm.export()
    assert isinstance(plain, nn.BatchNorm2d) and plain.num_features == 5
    torch.testing.assert_close(plain.running_var, norm.running_var[:5])
    norm.eval()
    plain.eval()
    torch.testing.assert_close(plain(x), norm(x))


def test_choice_exports_only_the_active_option():
    choice = ElasticChoice({"off": None, "on": SqueezeExcite(16, 8, "relu6")})
    assert isinstance(choice.export(), nn.Identity)
    choice.configure("on").configure(12, 8, "hswish")
    se = choice.export()
    assert isinstance(se, SqueezeExcite) and isinstance(se.act, nn.Hardswish)
    assert sum(p.numel() for p in se.parameters()) == 12 * 8 + 8 + 8 * 12 + 12
    x = torch.randn(2, 12, 5, 5)
    torch.testing.assert_close(se(x), choice(x))


def test_layer_scale_slices_and_exports():
    scale = ElasticLayerScale(8, 0.5)
    scale.active_channels = 3
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(scale(x), x * 0.5)
    plain = scale.export()
    assert plain.gamma.shape == (3,)
    torch.testing.assert_close(plain(x), scale(x))


def test_make_divisible_rounds_half_up_to_eight():
    cases = [(32, 0.25), (144, 0.75), (8, 0.25), (120, 0.75), (160, 0.75)]
    assert [make_divisible(f, r) for f, r in cases] == [8, 112, 8, 88, 120]


def test_blocks_export_the_configured_subnet():
    torch.manual_seed(0)
    ibn = InvertedBottleneck(16, 16, (3, 5), 1, (4, 8), residual=True, se=True, act="relu6").eval()
    layer = dict(hw=(8, 8), choices=(), stage=0)
    ibn.configure(IBNSpec(12, 12, 3, 1, True, "hswish", 0.25, **layer, expansion=4))
    tucker = TuckerBlock(16, 24, (3, 5), 2, (0.25, 0.75), residual=False, act="relu6").eval()
    tucker.configure(TuckerSpec(12, 20, 5, 2, False, "relu6", 0.0, **layer, in_ratio=0.75, out_ratio=0.25))
    x = torch.randn(2, 12, 8, 8)
    for block in (ibn, tucker):
        plain = export_module(block).eval()
        with torch.no_grad():
            torch.testing.assert_close(plain(x), block(x))
    assert tucker(x).shape == (2, 20, 4, 4)
    with pytest.raises(ValueError, match="squeeze-excite requested from a layer built without it"):
        InvertedBottleneck(8, 8, (3,), 1, (4,), True, se=False, act="relu6").configure(
            IBNSpec(8, 8, 3, 1, True, "relu6", 0.25, **layer, expansion=4))
    with pytest.raises(ValueError, match="expansion 4 asked of an inverted bottleneck built without expansion"):
        InvertedBottleneck(8, 8, (3,), 1, (1,), False, se=False, act="relu6").configure(
            IBNSpec(8, 8, 3, 1, False, "relu6", 0.0, **layer, expansion=4))


def _reference_window_attention(q, k, v, heads, head_dim, window, dilated):  # noqa: ANN001, ANN202
    """Loops over windows and heads; windows hold adjacent pixels, or pixels n1/n2 apart when dilated."""
    _, _, h, w = q.shape
    n1, n2 = h // window, w // window
    out = torch.zeros_like(v)
    groups = torch.tensor_split(torch.arange(v.shape[1]), heads)
    for i in range(n1):
        for j in range(n2):
            rows = torch.arange(i, h, n1) if dilated else torch.arange(i * window, (i + 1) * window)
            cols = torch.arange(j, w, n2) if dilated else torch.arange(j * window, (j + 1) * window)
            tokens = [(r, c) for r in rows for c in cols]
            qw, kw, vw = (torch.stack([t[:, :, r, c] for r, c in tokens], dim=-1) for t in (q, k, v))  # (B, C, tokens)
            for head, channels in enumerate(groups):
                sl = slice(head * head_dim, (head + 1) * head_dim)
                attn = ((qw[:, sl].transpose(1, 2) @ kw[:, sl]) * head_dim**-0.5).softmax(-1)
                mixed = vw[:, channels] @ attn.transpose(1, 2)  # (B, group channels, tokens)
                for t, (r, c) in enumerate(tokens):
                    out[:, channels, r, c] = mixed[:, :, t]
    return out


@pytest.mark.parametrize("cv", [12, 10])  # 12 splits evenly over 3 heads, 10 does not
def test_spanning_window_attention_matches_a_loop_reference(cv):
    torch.manual_seed(0)
    attention = SpanningWindowAttention(8, cv, max_heads=3, max_head_dim=4, window=2, act="gelu")
    attention.configure(8, cv, heads=3, head_dim=4)
    x = torch.randn(2, 8, 4, 6)
    q, k, v = attention.q(x), attention.k(x), attention.v(x)
    expected = sum(_reference_window_attention(q, k, v, 3, 4, 2, dilated) for dilated in (True, False))
    torch.testing.assert_close(attention(x), expected)
    assert window_attention(q, k, v, 3, 4).shape == v.shape


def test_spanning_window_attention_pads_to_whole_windows():
    attention = SpanningWindowAttention(8, 16, 2, 4, window=4, act="gelu")
    x = torch.randn(1, 8, 5, 3)
    assert attention(x).shape == (1, 16, 5, 3)
    padded, windows, tokens = SpanningWindowAttention.layout((5, 3), 4)
    assert (padded, windows, tokens) == ((8, 4), 2, 16)
