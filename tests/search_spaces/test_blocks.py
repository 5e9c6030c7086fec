"""One structure per space: `space.blocks(arch)` drives the supernet, `set_active`, `ops()` and typed I/O,
and every block's module agrees with its spec's ops (fvcore), over every space and preset."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from hwnas.errors import InvalidArchError, UnknownNameError
from hwnas.evaluators import fvcore_macs
from hwnas.search_spaces import SPACES, Arch, BlockSpec, ChoiceSpace, SearchSpace, SpaceIO, get_space, list_spaces, space_class
from hwnas.search_spaces._ops import total_macs, total_params
from hwnas.search_spaces.elastic import export_module
from hwnas.search_spaces.specs import BuildableSpec, I2RMBSpec, MobileLayerSpec, TransformerLayerSpec
from tests.conftest import SPACE_PRESETS, TEST_INPUT_SHAPES

ids = [f"{n}/{p}" for n, p in SPACE_PRESETS]


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_ops_are_the_concatenated_ops_of_the_blocks(name, preset):
    space = get_space(name, preset)
    shape = TEST_INPUT_SHAPES.get((name, preset))
    for arch in [space.min_arch(), space.max_arch(), space.sample(4)]:
        blocks = space.blocks(arch, shape)
        assert blocks and all(isinstance(b, BlockSpec) and dataclasses.is_dataclass(b) for b in blocks)
        assert blocks == space.blocks(arch.to_dict(), shape)  # one deterministic mapping
        hash(tuple(blocks))  # frozen specs: usable as cache keys
        assert space.ops(arch, shape) == [op for b in blocks for op in b.ops()]
    with pytest.raises(InvalidArchError, match="bogus"):
        space.blocks(space.min_arch().replace(bogus=1))


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_supernet_modules_are_the_largest_blocks_built(supernets, name, preset):
    """Each buildable block of the largest arch is a module of the supernet, of the class its spec builds."""
    space, supernet = supernets(name, preset)
    built = {type(m) for m in supernet.net.modules()}
    for spec in space.blocks(space.max_arch()):
        if isinstance(spec, BuildableSpec):
            with torch.random.fork_rng():
                assert type(spec.build()) in built, spec


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_typed_io_describes_the_preset(supernets, name, preset):
    space, supernet = supernets(name, preset)
    io = space.io
    assert isinstance(io, SpaceIO) and io.task_kind in ("classification", "seq2seq", "detection")
    assert space.default_input_shape == io.input_shape
    shape = TEST_INPUT_SHAPES.get((name, preset))
    inputs = space.example_input(2, shape)
    with torch.no_grad():
        out = supernet(*inputs)
    if io.is_seq2seq:
        assert io.num_classes is None and out.shape == (2, io.input_shape[1], io.vocab_size) and io.outputs == io.vocab_size
    elif io.is_detection:
        assert out.shape[-1] == 4 + io.num_classes + 1
    elif io.num_classes is None:
        assert out.dim() == 3  # an encoder without a head returns hidden states
    else:
        assert out.shape == (2, io.num_classes) and io.outputs == io.num_classes
    assert get_space(name, preset, **io.shape_options()).io == io  # what checkpoints store rebuilds the same space


def _self_contained(spec: BlockSpec) -> bool:
    """Blocks that run on one input tensor (decoder layers also read the encoder's memory)."""
    if isinstance(spec, TransformerLayerSpec):
        return spec.cross is None
    return isinstance(spec, (MobileLayerSpec, I2RMBSpec))


def _module_input(spec: BlockSpec) -> tuple[torch.Tensor, ...]:
    if isinstance(spec, (MobileLayerSpec, I2RMBSpec)):
        return (torch.randn(1, spec.cin, *spec.hw),)
    return (torch.randn(1, spec.n, spec.embed),)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name,preset", [("mobiledets", "tiny"), ("emov2", "tiny"), ("mixed-attention", "tiny"),
                                         ("mixed-attention", "tiny-mt"), ("lighthubert", "tiny")])
def test_each_block_module_matches_its_spec_ops(name, preset):
    """Per block, not only per subnet: the module a spec builds and configures costs what `spec.ops()` says."""
    space, rng = get_space(name, preset), random.Random(0)
    checked = set()
    for arch in [space.min_arch(), space.max_arch()] + [space.sample(rng) for _ in range(3)]:
        for spec in filter(_self_contained, space.blocks(arch)):
            torch.manual_seed(0)
            module = spec.build()
            block = module.configure(spec.option) if isinstance(spec, MobileLayerSpec) else module
            block.configure(spec)
            plain = export_module(block).eval()
            ops = spec.ops()
            assert sum(p.numel() for p in plain.parameters()) == total_params(ops), spec
            macs = fvcore_macs(plain, _module_input(spec))
            assert abs(total_macs(ops) - macs) <= 0.02 * macs, (spec, macs, total_macs(ops))
            checked.add(type(spec).__name__)
    assert checked


def test_the_space_registry_is_one_registry():
    assert SPACES.kind == "search space" and list_spaces() == SPACES.names() == sorted(SPACES)
    assert all(issubclass(space_class(n), SearchSpace) and issubclass(space_class(n), ChoiceSpace) for n in SPACES)
    assert list_spaces("mobile*") == ["mobiledets"]
    with pytest.raises(UnknownNameError, match="unknown search space 'nope'; choose one of: emov2, fbnet, lighthubert"):
        get_space("nope")
    with pytest.raises(UnknownNameError, match="preset of space 'emov2' 'huge'"):
        get_space("emov2", "huge")


def test_equal_specs_are_one_shared_instance(monkeypatch):
    """Walking many archs builds the same layers again and again: equal arguments of equal types give the spec
    already built, a spec with an unhashable argument is still built, a spec that is not frozen is refused, and the
    table starts over when full."""
    from hwnas.search_spaces import _block

    space = get_space("mixed-attention", "hat-wmt14-en-de")
    arch = space.sample(3)
    first, again = space.latency_blocks(arch), space.latency_blocks(Arch(arch.to_dict()))
    assert all(a is b for a, b in zip(first, again, strict=True))
    args = (4, 8, 1, 8, 16, "softmax", "relu", False, ("softmax",))
    assert TransformerLayerSpec(*args) is TransformerLayerSpec(*args)
    as_float = TransformerLayerSpec(4, 8, 1, 8, 16.0, "softmax", "relu", False, ("softmax",))
    assert as_float == TransformerLayerSpec(*args) and as_float is not TransformerLayerSpec(*args)
    assert type(TransformerLayerSpec(*args).ffn) is int and type(as_float.ffn) is float
    unhashable = TransformerLayerSpec(4, 8, 1, 8, 16, "softmax", "relu", False, ["softmax"])  # a list, not a tuple
    assert unhashable.kinds == ["softmax"]

    @dataclasses.dataclass
    class Mutable(BlockSpec):
        width: int

        def ops(self):
            return []

    with pytest.raises(TypeError, match="Mutable: block specs are shared between archs"):
        Mutable(3)
    monkeypatch.setattr(_block, "SHARED_MAX", 1)
    monkeypatch.setattr(_block._Shared, "_instances", {})  # as if no spec were built yet
    fresh = space.latency_blocks(space.sample(5))
    assert len(_block._Shared._instances) == 1 and fresh == space.latency_blocks(space.sample(5))


def test_the_translation_walk_finds_its_layers_by_the_values_that_shape_them(monkeypatch):
    """HAT's space looks each layer up by its tokens, widths, heads, kind and cross-attention (a search walks the
    same few layers for every arch): the layers are the specs built from the arch's fields, here apart from the
    space's code, for the forward walk and the decode walk, and the memo starts over when full."""
    from hwnas.search_spaces import _block
    from hwnas.search_spaces.specs import CrossAttention, DecodingLayerSpec

    space = get_space("mixed-attention", "hat-wmt14-en-de")
    kinds = ("cosformer", "softmax")

    def expected_layers(arch):
        enc, dec = arch["encoder_embed_dim"], arch["decoder_embed_dim"]
        encoder = [TransformerLayerSpec(30, enc, h, 512 // h, f, kind, "relu", False, kinds, qkv_dim=512)
                   for h, f, kind in zip(arch["encoder_heads"], arch["encoder_ffn_dim"], arch["encoder_attn"])]
        memory = [1 if a == -1 else a + 1 for a in arch["decoder_ende_attn"]]
        decoder = [TransformerLayerSpec(30, dec, h, 512 // h, f, kind, "relu", False, kinds, causal=True, qkv_dim=512,
                                        cross=CrossAttention(30 * m, enc, xh, 512 // xh, m))
                   for h, f, kind, xh, m in zip(arch["decoder_heads"], arch["decoder_ffn_dim"], arch["decoder_attn"],
                                                arch["decoder_ende_heads"], memory)]
        return encoder, decoder

    for seed in range(40):
        arch = space.sample(seed)
        encoder, decoder = expected_layers(arch)
        forward, decode = space.blocks(arch), space.latency_blocks(arch)
        assert forward[1: 1 + len(encoder)] == encoder and forward[2 + len(encoder): -1] == decoder
        assert decode[1: 1 + len(encoder)] == encoder
        assert decode[2 + len(encoder):] == [DecodingLayerSpec(30, 5, d) for d in decoder]
        assert all(a is b for a, b in zip(forward[2 + len(encoder): -1], [d.layer for d in decode[2 + len(encoder):]]))
    monkeypatch.setattr(_block, "SHARED_MAX", 2)
    small = get_space("mixed-attention", "hat-wmt14-en-de")
    for seed in range(5):
        assert small.latency_blocks(space.sample(seed)) == space.latency_blocks(space.sample(seed))
    assert len(small._layers) <= 2 and len(small._decodings) <= 2


@pytest.mark.parametrize("name,preset", SPACE_PRESETS)
def test_a_walk_memo_never_hands_one_archs_layer_to_another(name, preset, monkeypatch):
    """Walks look layers up by the values that shape them (`SpecMemo`); a key missing one of those values would hand
    a spec built for one arch to another. Walking archs in a shuffled order after others must give what a walk
    that (almost) never remembers gives: each memo holds one entry when `SHARED_MAX` is 0."""
    from hwnas.search_spaces import _block

    space = get_space(name, preset)
    archs = [space.sample(i) for i in range(40)] + [space.max_arch(), space.min_arch()]
    remembered = {a.id: (space.blocks(a), space.latency_blocks(a)) for a in random.Random(1).sample(archs, len(archs))}
    monkeypatch.setattr(_block, "SHARED_MAX", 0)
    forgetful = get_space(name, preset)
    for arch in archs:
        assert (forgetful.blocks(arch), forgetful.latency_blocks(arch)) == remembered[arch.id]


@pytest.mark.parametrize("name,preset", [("lighthubert", "tiny"), ("mobiledets", "tiny"), ("emov2", "tiny"),
                                         ("mixed-attention", "tiny-mt")])
def test_an_input_shape_of_other_number_types_is_walked_as_ints(name, preset):
    """Walks remember specs by value: a shape of numpy integers or whole floats is the same shape of ints (specs,
    ops and their JSON unchanged for later walks at the default), and a fractional size is refused."""
    import json

    import numpy as np

    space, arch = get_space(name, preset), get_space(name, preset).sample(0)
    default = space.default_input_shape

    def typed(ops):
        return [(op.kind, op.macs, type(op.macs), [(k, v, type(v)) for k, v in op.attrs]) for op in ops]

    fresh = typed(get_space(name, preset).ops(arch))
    for odd in (tuple(np.int64(s) for s in default), tuple(float(s) for s in default)):
        assert space.blocks(arch, odd) == space.blocks(arch)
        assert typed(space.ops(arch)) == fresh
        json.dumps([list(op.attrs) for op in space.ops(arch)])
    with pytest.raises(ValueError, match="whole numbers"):
        space.blocks(arch, tuple(s + 0.5 for s in default))
