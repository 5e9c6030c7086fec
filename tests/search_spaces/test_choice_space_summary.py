"""`encode_summary`: per-layer choices summed up, position-free, in `summary_names()` order."""

from __future__ import annotations

import pytest

from hwnas.errors import InvalidArchError
from hwnas.search_spaces import get_space


def test_summary_counts_and_sums_the_active_layers():
    space = get_space("mixed-attention", "tiny")
    arch = space.max_arch()
    values = dict(zip(space.summary_names(), space.encode_summary(arch)))
    assert len(values) == len(space.summary_names())
    layers = arch["layers"]
    assert values["ffn_dim:sum"] == sum(arch["ffn_dim"]) and values["ffn_dim:max"] == max(arch["ffn_dim"])
    assert sum(values[f"attn:count={kind}"] for kind in ("cosformer", "softmax", "relative")) == layers
    assert values["layers"] == layers and values["embed_dim"] == arch["embed_dim"]


def test_summary_is_the_same_for_layers_in_another_order():
    space = get_space("mixed-attention", "tiny")
    arch = space.max_arch()
    swapped = space.validate({**arch, "ffn_dim": tuple(reversed(arch["ffn_dim"])), "attn": tuple(reversed(arch["attn"]))})
    assert (space.encode_summary(arch) == space.encode_summary(swapped)).all()


def test_summary_refuses_an_arch_outside_the_space():
    with pytest.raises(InvalidArchError):
        get_space("mixed-attention", "tiny").encode_summary({"embed_dim": 7})
