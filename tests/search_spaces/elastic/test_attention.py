"""The attention kernels against direct (loop) implementations of their papers' formulas."""

from __future__ import annotations

import math

import pytest
import torch

from hwnas.search_spaces.elastic import ElasticAttention, attend


def _qkv(n_q=5, n_k=5, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(1, 2, n_q, d, generator=g), torch.randn(1, 2, n_k, d, generator=g), torch.randn(1, 2, n_k, d, generator=g))


def cosformer_reference(q, k, v, causal):
    n_q, n_k = q.shape[-2], k.shape[-2]
    m = max(n_q, n_k)
    q, k = torch.relu(q), torch.relu(k)
    out = torch.zeros_like(q)
    for i in range(n_q):
        weights = []
        for j in range(n_k):
            if causal and j > i:
                weights.append(torch.zeros(q.shape[:2]))
                continue
            cos = math.cos(math.pi / 2 * ((i + 1) - (j + 1)) / m)
            weights.append((q[..., i, :] * k[..., j, :]).sum(-1) * cos)
        w = torch.stack(weights, -1)  # (B, H, Nk)
        out[..., i, :] = (w.unsqueeze(-1) * v).sum(-2) / w.sum(-1, keepdim=True).clamp_min(1e-3)
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_cosformer_matches_the_formula(causal):
    q, k, v = _qkv()
    torch.testing.assert_close(attend(q, k, v, "cosformer", causal), cosformer_reference(q, k, v, causal), atol=1e-5, rtol=1e-4)


def test_relative_attention_adds_clipped_position_keys():
    q, k, v = _qkv(d=4)
    table = torch.randn(2 * 2 + 1, 4)  # range 2
    scale = 4**-0.5
    logits = torch.empty(1, 2, 5, 5)
    for i in range(5):
        for j in range(5):
            rel = table[max(-2, min(2, j - i)) + 2]
            logits[..., i, j] = ((q[..., i, :] * scale) * (k[..., j, :] + rel)).sum(-1)
    expected = logits.softmax(-1) @ v
    torch.testing.assert_close(attend(q, k, v, "relative", rel_table=table), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["softmax", "cosformer"])
def test_causal_attention_ignores_future_tokens(kind):
    q, k, v = _qkv()
    k2, v2 = k.clone(), v.clone()
    k2[..., 3:, :] += 5.0
    v2[..., 3:, :] -= 3.0
    a, b = attend(q, k, v, kind, causal=True), attend(q, k2, v2, kind, causal=True)
    torch.testing.assert_close(a[..., :3, :], b[..., :3, :])
    assert not torch.allclose(a[..., 3:, :], b[..., 3:, :])


def test_smaller_relative_range_uses_the_centre_of_the_table():
    attn = ElasticAttention("relative", 16, 2, head_dim=8, max_rel_range=4)
    attn.configure(heads=2, embed=16, rel_range=2)
    table = attn._rel_table()
    assert table.shape == (5, 8)
    torch.testing.assert_close(table, attn.rel_keys[2:7])
    exported = attn.export()
    x = torch.randn(2, 6, 16)
    torch.testing.assert_close(exported(x), attn(x))


def test_fixed_qkv_width_splits_heads_hat_style():
    attn = ElasticAttention("softmax", 32, 8, qkv_dim=16)
    attn.configure(heads=2, embed=24)
    plain = attn.export()
    assert plain.q_proj.weight.shape == (16, 24) and plain.out_proj.weight.shape == (24, 16)
    x = torch.randn(1, 3, 24)
    torch.testing.assert_close(plain(x), attn(x))
